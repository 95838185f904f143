// Cross-check of pricing/models.json against genai-prices 0.1.8 for first-party providers.
// A disagreement beyond the tolerance must be decided by a person: either an override in
// pricing/overrides.json or an entry (with a reason and the two values) in
// pricing/known-disagreements.json. A new or changed disagreement fails this test.
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { activePrices, crossCheck, genaiSourceFile, matchLogic, staleKnown, TOLERANCE, unexplained } from '../../pricing/crosscheck.mjs';
import { readJson } from './helpers.ts';

const table = readJson('pricing/models.json');
const genaiFile: string = genaiSourceFile(readJson('pricing/SOURCE.json'));
const genai = readJson<any[]>(`pricing/sources/${genaiFile}`);
const overrides = readJson('pricing/overrides.json');
const known = readJson('pricing/known-disagreements.json');
const AT: string = known.genai_prices_at;

describe(`genai-prices cross-check (${genaiFile}, prices at ${AT})`, () => {
  const result = crossCheck(table, genai, { at: AT });

  it('compares a meaningful number of first-party models', () => {
    const per = result.perProvider as Record<string, { compared: number; unmatched: number; disagreeing_models: number }>;
    console.log(
      `[pricing] genai-prices cross-check: ${result.compared} entries compared, ${result.disagreements.length} field disagreements (tolerance ${TOLERANCE * 100}%), ${result.unmatched.length} without a genai-prices match`,
    );
    for (const [p, s] of Object.entries(per).sort()) console.log(`[pricing]   ${p.padEnd(10)} compared ${String(s.compared).padStart(4)}  disagreeing ${String(s.disagreeing_models).padStart(3)}  unmatched ${s.unmatched}`);
    const byOrigin = { override: 0, known: 0 };
    for (const d of result.disagreements) overrides.models[d.id] ? byOrigin.override++ : byOrigin.known++;
    console.log(`[pricing]   explained by overrides.json: ${byOrigin.override}, by known-disagreements.json: ${byOrigin.known}`);
    expect(result.compared).toBeGreaterThan(250);
    for (const p of ['openai', 'anthropic', 'gemini', 'vertex', 'mistral', 'deepseek', 'xai', 'cohere']) expect(per[p]?.compared ?? 0, p).toBeGreaterThan(0);
    expect(per.anthropic.compared).toBeGreaterThanOrEqual(24);
  });

  it('every disagreement is explained in overrides.json or known-disagreements.json', () => {
    const un = unexplained(result.disagreements, overrides, known);
    if (un.length) {
      const skeleton: Record<string, any> = {};
      for (const d of un) {
        const k = (skeleton[d.id] ??= { reason: 'TODO: why we keep our value', genai_model: d.genai_model, fields: {} });
        k.fields[d.field] = { ours: d.ours, genai: d.genai };
      }
      console.log(`[pricing] unexplained disagreements; decide, then add an override or a known-disagreements entry:\n${JSON.stringify(skeleton, null, 1)}`);
    }
    expect(un.map((d: any) => `${d.id} ${d.field}: ours ${d.ours} vs genai-prices ${d.genai}`)).toEqual([]);
  });

  it('known-disagreements.json has no stale entries and every entry has a reason', () => {
    expect(staleKnown(result.disagreements, known)).toEqual([]);
    for (const [id, k] of Object.entries<any>(known.disagreements)) {
      expect(typeof k.reason === 'string' && k.reason.length > 20, `${id} reason`).toBe(true);
      expect(overrides.models[id], `${id} is both overridden and listed as known`).toBeUndefined();
    }
    expect(known.tolerance).toBe(TOLERANCE);
    expect(Number.isNaN(Date.parse(AT))).toBe(false);
  });

  it('every override and override alias carries a reason', () => {
    for (const [id, o] of Object.entries<any>(overrides.models)) expect(typeof o.reason === 'string' && o.reason.length > 20, id).toBe(true);
    for (const [id, a] of Object.entries<any>(overrides.aliases)) expect(typeof a.reason === 'string' && a.reason.length > 20, id).toBe(true);
  });

  it('detects a new disagreement (the check is not a tautology)', () => {
    const mutated = structuredClone(table);
    mutated.models['gpt-4o'].input *= 2;
    mutated.models['claude-haiku-4-5'].cache_write_1h = 1;
    const un = unexplained(crossCheck(mutated, genai, { at: AT }).disagreements, overrides, known);
    expect(un.map((d: any) => `${d.id}:${d.field}`).sort()).toEqual(['claude-haiku-4-5:cache_write_1h', 'gpt-4o:input']);
  });

  it('detects a changed value of a known disagreement', () => {
    const mutated = structuredClone(table);
    mutated.models['xai/grok-4.5'].cache_read = 700_000;
    const un = unexplained(crossCheck(mutated, genai, { at: AT }).disagreements, overrides, known);
    expect(un.map((d: any) => `${d.id}:${d.field}`)).toEqual(['xai/grok-4.5:cache_read']);
  });
});

describe('genai-prices semantics used by the cross-check', () => {
  const model = (provider: string, id: string) => genai.find((p) => p.id === provider).models.find((m: any) => m.id === id);

  it('match expressions', () => {
    expect(matchLogic({ or: [{ starts_with: 'claude-3-5-haiku' }, { equals: 'x' }] }, 'claude-3-5-haiku-20241022')).toBe(true);
    expect(matchLogic({ and: [{ contains: 'gpt' }, { ends_with: 'mini' }] }, 'gpt-4o-mini')).toBe(true);
    expect(matchLogic({ regex: '^o[134]' }, 'gpt-4o')).toBe(false);
  });

  it('date-conditional prices: gpt-5.6-sol cut on 2026-08-21', () => {
    const m = model('openai', 'gpt-5.6-sol');
    expect(activePrices(m.prices, '2026-08-01T12:00:00Z').input_mtok.base).toBe(5);
    expect(activePrices(m.prices, '2026-09-01T12:00:00Z').input_mtok.base).toBe(4);
  });

  it('time-of-day prices: deepseek-chat standard vs off-peak window', () => {
    const m = model('deepseek', 'deepseek-chat');
    expect(activePrices(m.prices, '2026-09-23T12:00:00Z').input_mtok).toBe(0.27);
    expect(activePrices(m.prices, '2026-09-23T20:00:00Z').input_mtok).toBe(0.135);
  });
});

describe('vendor-verified prices (pricing/sources/vendor-verified.json)', () => {
  const list = readJson('pricing/sources/vendor-verified.json');
  // @ts-expect-error plain ESM module without types
  const load = () => import('../../pricing/verified.mjs');

  it('models.json carries every vendor-verified price exactly', async () => {
    const { verifiedDiff, verifiedRows } = await load();
    const rows = verifiedRows(list);
    const per: Record<string, number> = {};
    for (const r of rows) per[r.provider] = (per[r.provider] ?? 0) + 1;
    console.log(`[pricing] vendor-verified: ${list.prices.length} models, ${rows.length} prices: ${Object.entries(per).map(([p, n]) => `${p} ${n}`).join(', ')}`);
    expect(verifiedDiff(table, list)).toEqual([]);
    expect(rows.length).toBeGreaterThan(50);
  });

  it('every verified price names a vendor page and a date, and every provider says where it stands', () => {
    for (const p of list.prices) {
      expect(p.page, p.model).toMatch(/^https:\/\/(docs\.anthropic\.com|docs\.x\.ai|archive\.fo|api-docs\.deepseek\.com|openai\.com|platform\.openai\.com|ai\.google\.dev|mistral\.ai|docs\.mistral\.ai|cohere\.com|docs\.cohere\.com|groq\.com|console\.groq\.com)\//);
      expect(p.date, p.model).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(list.providers[p.provider]?.status, p.provider).toBe('verified');
    }
    for (const prov of ['openai', 'anthropic', 'google', 'mistral', 'xai', 'deepseek', 'cohere', 'groq']) {
      expect(list.providers[prov], prov).toBeDefined();
      expect(list.providers[prov].note ?? list.providers[prov].pages, prov).toBeTruthy();
    }
  });
});
