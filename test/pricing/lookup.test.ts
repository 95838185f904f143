import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/pricing/load-price-table.ts';
import { PriceTable, type PriceTableData } from '../../src/pricing/price-table.ts';

const table = loadPriceTable();

type Row = [name: string, model: string, hint: string | undefined, id: string | undefined, via?: string];

const ROWS: Row[] = [
  // exact and alias
  ['exact id', 'gpt-4o', undefined, 'gpt-4o', 'exact'],
  ['exact dated snapshot keeps its own entry', 'gpt-4o-2024-08-06', undefined, 'gpt-4o-2024-08-06', 'exact'],
  ['case-insensitive exact', 'GPT-4o', undefined, 'gpt-4o', 'exact'],
  ['override alias claude-3-5-haiku-latest', 'claude-3-5-haiku-latest', undefined, 'claude-3-5-haiku-20241022', 'alias'],
  ['generated Anthropic alias claude-3-7-sonnet-latest', 'claude-3-7-sonnet-latest', undefined, 'claude-3-7-sonnet-20250219', 'alias'],
  ['generated Anthropic alias claude-sonnet-4-0', 'claude-sonnet-4-0', undefined, 'claude-sonnet-4-20250514', 'alias'],
  ['bare first-party alias mistral-large-latest', 'mistral-large-latest', undefined, 'mistral/mistral-large-latest', 'alias'],
  ['bare first-party alias grok-4', 'grok-4', undefined, 'xai/grok-4', 'alias'],
  // provider hint
  ['azure hint reaches an azure-only id', 'gpt-35-turbo', 'azure', 'azure/gpt-35-turbo', 'prefix'],
  ['exact id wins over the hint (lookup order: exact, alias, hint)', 'gpt-4o', 'azure', 'gpt-4o', 'exact'],
  ['openrouter hint', 'anthropic/claude-sonnet-4', 'openrouter', 'openrouter/anthropic/claude-sonnet-4', 'prefix'],
  ['together hint maps to together_ai/', 'meta-llama/Llama-3.3-70B-Instruct-Turbo', 'together', 'together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo', 'prefix'],
  ['fireworks hint adds the accounts path', 'deepseek-v3p1', 'fireworks', 'fireworks_ai/accounts/fireworks/models/deepseek-v3p1', 'prefix'],
  ['vertex hint for a Claude @-snapshot', 'claude-sonnet-4-5@20250929', 'vertex', 'vertex_ai/claude-sonnet-4-5@20250929', 'prefix'],
  // prefix stripping
  ['openai/ prefix stripped', 'openai/gpt-4o', undefined, 'gpt-4o', 'prefix'],
  ['anthropic/ prefix stripped', 'anthropic/claude-sonnet-4-20250514', undefined, 'claude-sonnet-4-20250514', 'prefix'],
  ['vertex_ai/ prefix stripped to the bare Vertex id', 'vertex_ai/gemini-2.5-pro', undefined, 'gemini-2.5-pro', 'prefix'],
  ['bedrock/ prefix stripped', 'bedrock/us.anthropic.claude-sonnet-4-20250514-v1:0', undefined, 'us.anthropic.claude-sonnet-4-20250514-v1:0', 'prefix'],
  ['bedrock region path stripped', 'bedrock/eu-west-1/anthropic.claude-3-haiku-20240307-v1:0', undefined, 'anthropic.claude-3-haiku-20240307-v1:0', 'prefix'],
  // dated snapshots
  ['unknown dated gpt-4o snapshot -> gpt-4o', 'gpt-4o-2099-01-01', undefined, 'gpt-4o', 'snapshot'],
  ['unknown dated gpt-4o-mini snapshot -> gpt-4o-mini, not gpt-4o', 'gpt-4o-mini-2099-01-01', undefined, 'gpt-4o-mini', 'snapshot'],
  ['YYYYMMDD suffix', 'claude-sonnet-4-5-20990101', undefined, 'claude-sonnet-4-5', 'snapshot'],
  ['@YYYYMMDD suffix without hint', 'claude-sonnet-4-5@20250929', undefined, 'claude-sonnet-4-5', 'snapshot'],
  ['MMDD suffix -0301', 'gpt-3.5-turbo-0301', undefined, 'gpt-3.5-turbo', 'snapshot'],
  ['Vertex -002 version suffix', 'gemini-2.5-flash-002', undefined, 'gemini-2.5-flash', 'snapshot'],
  ['azure dated snapshot', 'azure/gpt-4o-2099-01-01', undefined, 'azure/gpt-4o', 'snapshot'],
  ['bedrock -v9:0 and date stripped to the first-party entry', 'anthropic.claude-3-5-haiku-20241022-v9:0', undefined, 'claude-3-5-haiku-20241022', 'snapshot'],
  // -latest
  ['-latest without alias -> newest dated entry', 'claude-haiku-4-5-latest', undefined, 'claude-haiku-4-5-20251001', 'snapshot'],
  ['gpt-4o-latest -> newest gpt-4o snapshot', 'gpt-4o-latest', undefined, 'gpt-4o-2024-11-20', 'snapshot'],
  ['o3-pro-latest', 'o3-pro-latest', undefined, 'o3-pro-2025-06-10', 'snapshot'],
  // no loose family matches
  ['gpt-4o-mini-x is not gpt-4o / gpt-4o-mini', 'gpt-4o-mini-x', undefined, undefined],
  ['gpt-4o-foo is not gpt-4o', 'gpt-4o-foo', undefined, undefined],
  ['gpt-5.7 is not gpt-5', 'gpt-5.7', undefined, undefined],
  ['claude-opus-4-9 is not claude-opus-4', 'claude-opus-4-9', undefined, undefined],
  ['claude-sonnet-4-5-turbo is not claude-sonnet-4-5', 'claude-sonnet-4-5-turbo', undefined, undefined],
  ['grok-4-0709-foo is not grok-4', 'grok-4-0709-foo', undefined, undefined],
  ['gpt-4 resolves to gpt-4 itself', 'gpt-4', undefined, 'gpt-4', 'exact'],
  // unknown
  ['unknown model', 'totally-unknown-model', undefined, undefined],
  ['unknown model with hint', 'totally-unknown-model', 'azure', undefined],
  ['empty string', '', undefined, undefined],
];

describe('PriceTable.lookup', () => {
  it.each(ROWS)('%s', (_name, model, hint, id, via) => {
    const m = table.lookup(model, hint);
    if (id === undefined) {
      expect(m).toBeUndefined();
      return;
    }
    expect(m, `lookup(${model}, ${hint})`).toBeDefined();
    expect(m!.id).toBe(id);
    if (via) expect(m!.via).toBe(via);
  });

  it('is memoised: the same match object comes back, separately per hint', () => {
    const a = table.lookup('gpt-4o-2099-01-01');
    const b = table.lookup('gpt-4o-2099-01-01');
    expect(a).toBeDefined();
    expect(b).toBe(a);
    const c = table.lookup('gpt-35-turbo', 'azure');
    expect(table.lookup('gpt-35-turbo', 'azure')).toBe(c);
    expect(table.lookup('gpt-35-turbo')).toBeUndefined();
    expect(table.lookup('totally-unknown-model')).toBeUndefined();
  });

  it('exposes size and entries()', () => {
    const ids = [...table.entries()].map(([id]) => id);
    expect(table.size).toBe(ids.length);
    expect(table.size).toBeGreaterThan(1500);
    expect(ids).toContain('gpt-4o');
    expect(ids).not.toContain('sample_spec');
  });
});

describe('PriceTable on a small table', () => {
  const e = (input: number) => ({ provider: 'openai', mode: 'chat', input, output: input * 4, source: 'litellm' as const });
  const data: PriceTableData = {
    schema: 1,
    models: {
      'foo-1': e(1),
      'foo-1-2024-01-01': e(2),
      'foo-1-2025-06-30': e(3),
      'foo-1-mini': e(4),
      'acme/bar': e(5),
    },
    aliases: { 'foo-one': 'foo-1' },
  };
  const t = new PriceTable(data);

  it('-latest picks the newest dated entry, not the undated one', () => {
    expect(t.lookup('foo-1-latest')?.id).toBe('foo-1-2025-06-30');
  });
  it('a family with no dated entry falls back to the undated id for -latest', () => {
    expect(t.lookup('foo-1-mini-latest')?.id).toBe('foo-1-mini');
  });
  it('an unknown hint is used as a plain prefix', () => {
    expect(t.lookup('bar', 'acme')).toMatchObject({ id: 'acme/bar', via: 'prefix' });
    expect(t.lookup('bar')).toBeUndefined();
  });
  it('alias', () => {
    expect(t.lookup('foo-one')).toMatchObject({ id: 'foo-1', via: 'alias' });
  });
  it('never strips a name component: foo-1-mini-2 is unknown', () => {
    expect(t.lookup('foo-1-mini-2')).toBeUndefined();
    expect(t.lookup('foo-1-max')).toBeUndefined();
  });

  it('rejects malformed data', () => {
    expect(() => new PriceTable({ ...data, schema: 2 })).toThrow(/schema/);
    expect(() => new PriceTable({ ...data, aliases: { x: 'missing' } })).toThrow(/unknown model/);
    expect(() => new PriceTable({ ...data, models: { a: { ...e(1), input: 1.5 } } })).toThrow(/integer/);
    expect(
      () => new PriceTable({ ...data, models: { a: { ...e(1), tiers: [{ above: 200, input: 1 }, { above: 100, input: 2 }] } } }),
    ).toThrow(/sorted/);
  });
});
