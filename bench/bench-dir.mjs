import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Bench data directories go away with the process (a run writes tens of MB of LMDB).
const dirs = [];
process.once('exit', () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

export function benchDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
