// A plain aligned text table for the CLI's readable output: the first column
// left-aligned, the others right-aligned (numbers), two spaces between.

export function table(head: readonly string[], rows: readonly (readonly string[])[], opts: { left?: number } = {}): string {
  const all = [head, ...rows];
  const left = opts.left ?? 1; // leading columns aligned left (ids, names)
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i < left ? (c ?? '').padEnd(widths[i]!) : (c ?? '').padStart(widths[i]!))).join('  ').trimEnd()).join('\n');
}
