// The vendor-verified price list (pricing/sources/vendor-verified.json) against a generated table
// and against each upstream source. Plain Node ESM, no dependencies, no I/O.
//
// The list holds prices read on the vendor's own pricing page, in USD per 1M tokens. Two uses:
//   - verifiedDiff(table, list): where models.json differs from the list. A table value BELOW the
//     verified one is a refused write in generate.mjs ("never silently lower a verified price");
//     any difference fails test/pricing/crosscheck.test.ts.
//   - sourceDiff(...): what LiteLLM / genai-prices / models.dev say for the verified models, so a
//     weekly update shows which upstream values disagree with what a person read on the vendor page.

import { activePrices, FIRST_PARTY, GENAI_AT, matchLogic } from './crosscheck.mjs';
import { picoToUsdPerMtok, usdPerMtokToPico } from './decimal.mjs';

export const VERIFIED_FIELDS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h'];

/** Every (model, field) of the list as { model, field, usd, pico, page, date }; tiers as `tiers[above].field`. */
export function verifiedRows(list) {
  const rows = [];
  for (const p of list.prices ?? []) {
    const u = p.usd_per_mtok ?? {};
    for (const f of VERIFIED_FIELDS) {
      if (u[f] === undefined) continue;
      rows.push({ model: p.model, provider: p.provider, field: f, usd: u[f], pico: usdPerMtokToPico(u[f]).value, page: p.page, date: p.date });
    }
    for (const t of u.tiers ?? []) {
      for (const f of VERIFIED_FIELDS) {
        if (t[f] === undefined) continue;
        rows.push({ model: p.model, provider: p.provider, field: `tiers[${t.above}].${f}`, above: t.above, tierField: f, usd: t[f], pico: usdPerMtokToPico(t[f]).value, page: p.page, date: p.date });
      }
    }
  }
  return rows;
}

/** The value of a row's field in a models.json entry (pico-USD), or undefined. */
function tableValue(entry, row) {
  if (!entry) return undefined;
  if (row.above === undefined) return entry[row.field];
  return (entry.tiers ?? []).find((t) => t.above === row.above)?.[row.tierField];
}

/**
 * Rows where the table differs from the verified value. `lower: true` means the table would
 * under-charge against what the vendor's page says.
 */
export function verifiedDiff(table, list) {
  const out = [];
  for (const r of verifiedRows(list)) {
    const v = tableValue(table.models[r.model], r);
    if (v === r.pico) continue;
    // A missing model is listed but not "lower": an unpriced model is refused, not under-charged.
    out.push({ ...r, table: v === undefined ? undefined : Number(picoToUsdPerMtok(v)), lower: v !== undefined && v < r.pico });
  }
  return out;
}

/** Per verified model and provider family: the id a source would use (prefix stripped). */
function apiId(model, provider) {
  const fp = FIRST_PARTY[provider];
  let id = model;
  for (const p of fp?.[1] ?? []) if (id.startsWith(p)) id = id.slice(p.length);
  return id;
}

const MODELS_DEV_PROVIDER = { openai: 'openai', anthropic: 'anthropic', gemini: 'google', vertex: 'google-vertex', mistral: 'mistral', deepseek: 'deepseek', xai: 'xai', cohere: 'cohere', groq: 'groq' };

/** Prices (USD per 1M) a genai-prices provider array gives for a model, by our field names. */
export function genaiPricesFor(genai, model, provider, at = GENAI_AT) {
  const fp = FIRST_PARTY[provider];
  if (!fp) return undefined;
  const gm = genai.find((p) => p.id === fp[0])?.models.find((m) => matchLogic(m.match, apiId(model, provider)));
  const gp = gm ? activePrices(gm.prices, at) : undefined;
  if (!gp) return undefined;
  const base = (x) => (x && typeof x === 'object' ? x.base : x);
  const tiers = [];
  for (const [k, f] of [['input_mtok', 'input'], ['output_mtok', 'output'], ['cache_read_mtok', 'cache_read'], ['cache_write_mtok', 'cache_write']]) {
    for (const t of (gp[k] && typeof gp[k] === 'object' && gp[k].tiers) || []) {
      let tt = tiers.find((x) => x.above === t.start);
      if (!tt) tiers.push((tt = { above: t.start }));
      tt[f] = t.price;
    }
  }
  return { input: base(gp.input_mtok), output: base(gp.output_mtok), cache_read: base(gp.cache_read_mtok), cache_write: base(gp.cache_write_mtok), cache_write_1h: base(gp.cache_write_1h_mtok), tiers, matched: gm.id };
}

/** Prices (USD per 1M) the models.dev catalog gives for a model. */
export function modelsDevPricesFor(catalog, model, provider) {
  const c = catalog?.[MODELS_DEV_PROVIDER[provider]]?.models?.[apiId(model, provider)]?.cost;
  if (!c) return undefined;
  const tiers = [];
  for (const t of c.tiers ?? []) if (t?.tier?.type === 'context') tiers.push({ above: t.tier.size, input: t.input, output: t.output, cache_read: t.cache_read, cache_write: t.cache_write });
  return { input: c.input, output: c.output, cache_read: c.cache_read, cache_write: c.cache_write, tiers, matched: apiId(model, provider) };
}

/**
 * What a source says about each verified (model, field), where it says something different.
 * `pricesFor(model, provider)` returns USD-per-1M prices by our field names, or undefined.
 */
export function sourceDiff(list, pricesFor) {
  const out = [];
  const missing = new Set();
  for (const r of verifiedRows(list)) {
    const p = pricesFor(r.model, r.provider);
    if (!p) {
      // One line per model the source lacks, not one per field.
      if (!missing.has(r.model)) out.push({ ...r, field: '*', source: undefined, missing: true });
      missing.add(r.model);
      continue;
    }
    const v = r.above === undefined ? p[r.field] : p.tiers?.find((t) => t.above === r.above)?.[r.tierField];
    if (v === undefined) continue; // the source has no such price: nothing to compare
    if (usdPerMtokToPico(v).value !== r.pico) out.push({ ...r, source: v, lower: usdPerMtokToPico(v).value < r.pico });
  }
  return out;
}

export function formatRows(title, rows, max = 40) {
  const lines = [`${title}: ${rows.length}`];
  for (const r of rows.slice(0, max)) {
    const theirs = 'table' in r ? r.table : r.source;
    const what = r.missing ? 'no entry' : theirs === undefined ? 'missing' : `$${theirs}/M`;
    lines.push(`  ${r.lower ? '!' : '~'} ${r.model} ${r.field}: ${what}, vendor-verified $${r.usd}/M (${r.page}, ${r.date})`);
  }
  if (rows.length > max) lines.push(`  ... and ${rows.length - max} more`);
  return lines.join('\n');
}
