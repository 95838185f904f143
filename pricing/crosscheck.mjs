// Cross-check of models.json against genai-prices (pydantic/genai-prices, npm 0.1.8 data).
// Plain Node ESM, no dependencies. Used by generate.mjs (summary) and
// test/pricing/crosscheck.test.ts (enforcement).
//
// For every first-party entry (openai, anthropic, gemini API, Vertex gemini-*, mistral, deepseek,
// xai, cohere) in a token mode, the model id as the provider's API knows it is matched against the
// genai-prices provider's models with genai-prices' own rule (first model whose `match` expression
// accepts the id), the genai-prices price active at GENAI_AT is taken, and each price field both
// sides have is compared. A difference beyond TOLERANCE (relative) is a disagreement.

import { picoToUsdPerMtok, usdPerMtokToPico } from './decimal.mjs';

export const TOLERANCE = 0.01;
/** The moment at which genai-prices' date- and time-of-day-conditional prices are evaluated. */
export const GENAI_AT = '2026-09-23T12:00:00Z';

/** Tollgate provider -> [genai-prices provider id, prefixes stripped to get the API model id]. */
export const FIRST_PARTY = {
  openai: ['openai', []],
  anthropic: ['anthropic', []],
  gemini: ['google', ['gemini/']],
  vertex: ['google', ['vertex_ai/']],
  mistral: ['mistral', ['mistral/', 'codestral/', 'text-completion-codestral/']],
  deepseek: ['deepseek', ['deepseek/']],
  xai: ['x-ai', ['xai/']],
  cohere: ['cohere', ['cohere/']],
};

/**
 * File name (in pricing/sources/) of the genai-prices data: the SOURCE.json record whose role
 * starts with "cross-check". Changing that record is all it takes to switch to a newer copy.
 */
export function genaiSourceFile(sourceJson) {
  const hit = Object.entries(sourceJson?.files ?? {}).find(([, r]) => typeof r?.role === 'string' && r.role.startsWith('cross-check'));
  if (!hit) throw new Error('SOURCE.json has no file with role "cross-check ..."');
  return hit[0];
}

const TOKEN_MODES = new Set(['chat', 'responses', 'completion', 'embedding', 'audio_transcription', 'audio_speech']);

/** genai-prices' match logic (packages/js/src/matcher.ts). */
export function matchLogic(logic, text) {
  if (!logic || typeof logic !== 'object') return false;
  if ('or' in logic) return logic.or.some((c) => matchLogic(c, text));
  if ('and' in logic) return logic.and.every((c) => matchLogic(c, text));
  if ('equals' in logic) return text === logic.equals;
  if ('starts_with' in logic) return text.startsWith(logic.starts_with);
  if ('ends_with' in logic) return text.endsWith(logic.ends_with);
  if ('contains' in logic) return text.includes(logic.contains);
  if ('regex' in logic) return new RegExp(logic.regex).test(text);
  return false;
}

/** Prices active at `at`: the last list element whose constraint holds (genai-prices' rule). */
export function activePrices(prices, at = GENAI_AT) {
  if (!Array.isArray(prices)) return prices;
  const t = new Date(at);
  const tod = t.toISOString().slice(11, 19);
  for (let i = prices.length - 1; i >= 0; i--) {
    const c = prices[i].constraint;
    if (!c) return prices[i].prices;
    if (c.start_date !== undefined && (c.type === 'start_date' || c.type === undefined)) {
      if (new Date(c.start_date) <= t) return prices[i].prices;
      continue;
    }
    if (c.start_time !== undefined && c.end_time !== undefined) {
      const s = String(c.start_time).slice(0, 8);
      const e = String(c.end_time).slice(0, 8);
      const inside = s <= e ? tod >= s && tod < e : tod >= s || tod < e;
      if (inside) return prices[i].prices;
      continue;
    }
  }
  return undefined;
}

const baseOf = (p) => (p && typeof p === 'object' ? p.base : p);
const tiersOf = (p) => (p && typeof p === 'object' && Array.isArray(p.tiers) ? p.tiers : []);

/** Which genai-prices key to compare each of our fields with, by mode. */
function genaiKeyFor(field, mode, gp) {
  if (field === 'input') return mode === 'audio_transcription' && gp.input_audio_mtok !== undefined ? 'input_audio_mtok' : 'input_mtok';
  if (field === 'output') return mode === 'audio_speech' && gp.output_audio_mtok !== undefined ? 'output_audio_mtok' : 'output_mtok';
  return { cache_read: 'cache_read_mtok', cache_write: 'cache_write_mtok', cache_write_1h: 'cache_write_1h_mtok' }[field];
}

const differs = (a, b, tol) => {
  if (a === b) return false;
  const m = Math.max(Math.abs(a), Math.abs(b));
  return Math.abs(a - b) > tol * m;
};

/**
 * @param {{ models: Record<string, any> }} table   models.json content
 * @param {any[]} genai                              genai-prices provider array
 * @param {{ tolerance?: number, at?: string }} [opts]
 */
export function crossCheck(table, genai, opts = {}) {
  const tol = opts.tolerance ?? TOLERANCE;
  const at = opts.at ?? GENAI_AT;
  const providers = new Map(genai.map((p) => [p.id, p]));
  const disagreements = [];
  const unmatched = [];
  const perProvider = {};
  let compared = 0;
  for (const id of Object.keys(table.models).sort()) {
    const e = table.models[id];
    const fp = FIRST_PARTY[e.provider];
    if (!fp || !TOKEN_MODES.has(e.mode)) continue;
    const [gpId, prefixes] = fp;
    let apiId = id;
    for (const p of prefixes) if (apiId.startsWith(p)) apiId = apiId.slice(p.length);
    if (e.provider === 'vertex' && !apiId.startsWith('gemini')) continue; // Claude/Llama/etc. on Vertex: not first-party
    if (apiId.startsWith('ft:') || apiId.includes('/')) continue;
    const gprov = providers.get(gpId);
    const gm = gprov?.models.find((m) => matchLogic(m.match, apiId));
    const stats = (perProvider[e.provider] ??= { compared: 0, unmatched: 0, disagreeing_models: 0 });
    if (!gm) {
      unmatched.push(id);
      stats.unmatched++;
      continue;
    }
    const gp = activePrices(gm.prices, at);
    if (!gp) {
      unmatched.push(id);
      stats.unmatched++;
      continue;
    }
    compared++;
    stats.compared++;
    let any = false;
    for (const field of ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h']) {
      const key = genaiKeyFor(field, e.mode, gp);
      if (e[field] === undefined || gp[key] === undefined) continue;
      const theirs = usdPerMtokToPico(baseOf(gp[key])).value;
      if (differs(e[field], theirs, tol)) {
        any = true;
        disagreements.push({ id, provider: e.provider, genai_model: gm.id, field, ours: picoToUsdPerMtok(e[field]), genai: picoToUsdPerMtok(theirs) });
      }
      // Context tiers: compare where both sides have a tier at (about) the same threshold.
      for (const gt of tiersOf(gp[key])) {
        const ot = (e.tiers ?? []).find((t) => Math.abs(t.above - gt.start) <= 1);
        const ov = ot?.[field];
        if (ov === undefined) continue;
        const tv = usdPerMtokToPico(gt.price).value;
        if (differs(ov, tv, tol)) {
          any = true;
          disagreements.push({ id, provider: e.provider, genai_model: gm.id, field: `tiers[${ot.above}].${field}`, ours: picoToUsdPerMtok(ov), genai: picoToUsdPerMtok(tv) });
        }
      }
    }
    if (any) stats.disagreeing_models++;
  }
  return { compared, disagreements, unmatched, perProvider };
}

/**
 * Disagreements that nobody has looked at: not covered by an override of that model, and not
 * listed (same field, same two values) in known-disagreements.json.
 */
export function unexplained(disagreements, overrides, known) {
  const out = [];
  for (const d of disagreements) {
    if (overrides?.models?.[d.id]) continue;
    const k = known?.disagreements?.[d.id];
    const f = k?.fields?.[d.field];
    if (k && typeof k.reason === 'string' && k.reason.trim() && f && f.ours === d.ours && f.genai === d.genai) continue;
    out.push(d);
  }
  return out;
}

/** Entries of known-disagreements.json that no longer match a current disagreement. */
export function staleKnown(disagreements, known) {
  const live = new Set(disagreements.map((d) => `${d.id}\u0000${d.field}`));
  const out = [];
  for (const [id, k] of Object.entries(known?.disagreements ?? {})) {
    for (const field of Object.keys(k.fields ?? {})) if (!live.has(`${id}\u0000${field}`)) out.push({ id, field });
  }
  return out;
}
