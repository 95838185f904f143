#!/usr/bin/env node
// Generates pricing/models.json from LiteLLM's model_prices_and_context_window.json
// plus pricing/overrides.json. Plain Node ESM, no dependencies, no build step.
//
//   npm run pricing:update -- [--source FILE_OR_URL] [--force] [--max-drop 0.3] [--check]
//
//   --source FILE_OR_URL  LiteLLM price file (default pricing/sources/litellm_model_prices.json).
//                         A URL is downloaded with fetch; when the new table is written, the
//                         downloaded (or given) file replaces pricing/sources/litellm_model_prices.json
//                         and its record in pricing/SOURCE.json is updated, so that a later run
//                         with no --source reproduces models.json byte for byte.
//   --max-drop F          refuse to write when more than fraction F (default 0.3) of the models in
//                         the current models.json would be removed.
//   --force               write even when --max-drop would refuse.
//   --genai-prices F|URL  genai-prices data (the npm bundle array or the live v2 data.json) for
//                         the cross-check: its view of the vendor-verified prices is printed, and
//                         unless --check it is saved as pricing/sources/genai_prices_latest.json and
//                         becomes the cross-check file in SOURCE.json.
//   --models-dev F|URL    models.dev catalog (https://models.dev/api.json): its view of the
//                         vendor-verified prices is printed; unless --check it is saved as
//                         pricing/sources/models_dev_catalog.json (third vote, never priced from).
//   --check               do not write; exit 1 if models.json would change.
//   --quiet               print only the summary line.
//
// Every run prints the new table's differences from pricing/sources/vendor-verified.json (prices
// read on the vendors' own pages) and REFUSES to write (exit 1) a table that would lower one of
// them: fix it in overrides.json, or, if the vendor really cut the price, update the verified
// entry (page and date) first. A source that merely disagrees is listed, not refused.
//
// Output: sorted keys, 1-space indentation, trailing newline. Every price is an integer number of
// pico-USD (1e-12 USD) per token, or per image / second / character for those units, converted from
// LiteLLM's decimal USD with exact decimal arithmetic (see decimal.mjs).

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { picoToUsdPerMtok, usdPerMtokToPico, usdToPico } from './decimal.mjs';
import { formatRows, genaiPricesFor, modelsDevPricesFor, sourceDiff, verifiedDiff } from './verified.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PATHS = {
  source: path.join(HERE, 'sources', 'litellm_model_prices.json'),
  sourceJson: path.join(HERE, 'SOURCE.json'),
  overrides: path.join(HERE, 'overrides.json'),
  known: path.join(HERE, 'known-disagreements.json'),
  verified: path.join(HERE, 'sources', 'vendor-verified.json'),
  genaiLatest: path.join(HERE, 'sources', 'genai_prices_latest.json'),
  modelsDev: path.join(HERE, 'sources', 'models_dev_catalog.json'),
  out: path.join(HERE, 'models.json'),
};
const SOURCE_KEY = 'litellm_model_prices.json';

// ---------------------------------------------------------------------------------------------
// Scope
// ---------------------------------------------------------------------------------------------

/** LiteLLM `litellm_provider` -> Tollgate provider family. Providers not listed are out of scope. */
export const PROVIDER_FAMILY = {
  openai: 'openai',
  'text-completion-openai': 'openai',
  anthropic: 'anthropic',
  gemini: 'gemini',
  mistral: 'mistral',
  codestral: 'mistral',
  'text-completion-codestral': 'mistral',
  cohere: 'cohere',
  cohere_chat: 'cohere',
  deepseek: 'deepseek',
  groq: 'groq',
  together_ai: 'together',
  bedrock: 'bedrock',
  bedrock_converse: 'bedrock',
  bedrock_mantle: 'bedrock',
  azure: 'azure',
  azure_ai: 'azure',
  azure_text: 'azure',
  xai: 'xai',
  openrouter: 'openrouter',
  fireworks_ai: 'fireworks',
  'fireworks_ai-embedding-models': 'fireworks',
  perplexity: 'perplexity',
  deepinfra: 'deepinfra',
  cerebras: 'cerebras',
};

/** @param {string} litellmProvider */
export function familyOf(litellmProvider) {
  if (typeof litellmProvider !== 'string') return undefined;
  if (litellmProvider === 'vertex_ai' || litellmProvider.startsWith('vertex_ai-')) return 'vertex';
  return PROVIDER_FAMILY[litellmProvider];
}

export const MODES = ['chat', 'responses', 'completion', 'embedding', 'image_generation', 'audio_transcription', 'audio_speech'];
const RESERVED_KEYS = new Set(['sample_spec', 'fallback_generalizations']);

/** Price fields of an entry, in display order (everything except provider, mode, limits and source). */
export const PRICE_FIELDS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h', 'batch_input', 'batch_output', 'per_image', 'per_second', 'per_character'];
const TIER_FIELDS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h'];

// LiteLLM context-tier field bases: `${base}_above_${N}k_tokens`.
const TIER_BASES = [
  ['cache_creation_input_token_cost_above_1hr', 'cache_write_1h'],
  ['cache_creation_input_token_cost', 'cache_write'],
  ['cache_read_input_token_cost', 'cache_read'],
  ['input_cost_per_token', 'input'],
  ['output_cost_per_token', 'output'],
];

// First-party providers whose LiteLLM ids carry a prefix: the bare id becomes an alias when it is
// not itself an id (e.g. `mistral-large-latest` -> `mistral/mistral-large-latest`). Order = priority.
// Only names that belong to the provider's own models (not open models it happens to host).
const BARE_ALIAS_PREFIXES = [
  ['mistral/', /^(?:mistral|ministral|magistral|codestral|devstral|labs-devstral|pixtral|open-mistral|open-mixtral|open-codestral)-/],
  ['codestral/', /^codestral-/],
  ['xai/', /^grok-/],
  ['deepseek/', /^deepseek-/],
  ['gemini/', /^(?:gemini|imagen)-/],
  ['perplexity/', /^(?:sonar|pplx)-|^sonar$/],
  ['cohere/', /^(?:command|embed|rerank)-/],
];

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

/** Deep copy with object keys sorted (arrays keep their order). */
export function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) o[k] = sortKeys(v[k]);
    return o;
  }
  return v;
}

export function serialize(obj) {
  return JSON.stringify(sortKeys(obj), null, 1) + '\n';
}

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);

// ---------------------------------------------------------------------------------------------
// LiteLLM entry -> Tollgate entry
// ---------------------------------------------------------------------------------------------

/**
 * @param {string} id
 * @param {Record<string, any>} v       LiteLLM entry
 * @param {string} provider             Tollgate family
 * @param {{ rounded: any[], derived: any[] }} notes
 */
export function convertEntry(id, v, provider, notes) {
  const e = { provider, mode: v.mode };
  const put = (field, srcField, multiplier = 1n) => {
    const raw = v[srcField];
    if (!isNum(raw)) return false;
    const { value, exact, text } = usdToPico(raw, multiplier);
    if (!exact) notes.rounded.push({ id, field, from: srcField, source_value: text, ...(multiplier !== 1n ? { multiplier: Number(multiplier) } : {}), pico: value });
    e[field] = value;
    return true;
  };

  // Base token prices. Modes whose tokens are mostly audio/image tokens take that price.
  if (v.mode === 'audio_transcription') {
    put('input', 'input_cost_per_audio_token') || put('input', 'input_cost_per_token');
  } else {
    put('input', 'input_cost_per_token');
  }
  if (v.mode === 'audio_speech') {
    put('output', 'output_cost_per_audio_token') || put('output', 'output_cost_per_token');
  } else if (v.mode === 'image_generation') {
    put('output', 'output_cost_per_image_token') || put('output', 'output_cost_per_token');
  } else {
    put('output', 'output_cost_per_token');
  }
  put('cache_read', 'cache_read_input_token_cost') || put('cache_read', 'input_cost_per_token_cache_hit');
  put('cache_write', 'cache_creation_input_token_cost');
  put('cache_write_1h', 'cache_creation_input_token_cost_above_1hr');
  put('batch_input', 'input_cost_per_token_batches');
  put('batch_output', 'output_cost_per_token_batches');

  // Whole-request context tiers.
  const tiers = new Map();
  for (const key of Object.keys(v)) {
    const m = /^(.*)_above_(\d+)k_tokens$/.exec(key);
    if (!m) continue;
    const base = TIER_BASES.find(([b]) => b === m[1]);
    if (!base || !isNum(v[key])) continue;
    const above = Number(m[2]) * 1000;
    const t = tiers.get(above) ?? { above };
    const { value, exact, text } = usdToPico(v[key]);
    if (!exact) notes.rounded.push({ id, field: `tiers[${above}].${base[1]}`, from: key, source_value: text, pico: value });
    t[base[1]] = value;
    tiers.set(above, t);
  }
  if (tiers.size) e.tiers = [...tiers.values()].sort((a, b) => a.above - b.above);

  // Units other than tokens.
  if (v.mode === 'image_generation') {
    // OpenAI image models keep the per-generated-image price in input_cost_per_image.
    if (!put('per_image', 'output_cost_per_image') && !put('per_image', 'input_cost_per_image')) {
      // Sized DALL-E / gpt-image keys priced per pixel: per image = pixel price x width x height.
      const px = /(?:^|\/)(\d+)-x-(\d+)\//.exec(id);
      if (px && isNum(v.input_cost_per_pixel) && v.input_cost_per_pixel > 0) {
        const mult = BigInt(px[1]) * BigInt(px[2]);
        put('per_image', 'input_cost_per_pixel', mult);
        notes.derived.push({ id, field: 'per_image', from: `input_cost_per_pixel x ${px[1]} x ${px[2]}` });
      }
    }
  }
  if (v.mode === 'audio_speech') {
    put('per_second', 'output_cost_per_second') || put('per_second', 'input_cost_per_second');
  } else {
    put('per_second', 'input_cost_per_second') || (v.mode === 'audio_transcription' && put('per_second', 'output_cost_per_second'));
  }
  put('per_character', 'input_cost_per_character') || put('per_character', 'output_cost_per_character');

  if (Number.isInteger(v.max_input_tokens) && v.max_input_tokens > 0) e.max_input_tokens = v.max_input_tokens;
  if (Number.isInteger(v.max_output_tokens) && v.max_output_tokens > 0) e.max_output_tokens = v.max_output_tokens;
  e.source = 'litellm';
  return e;
}

const hasPrice = (e) => PRICE_FIELDS.some((f) => e[f] !== undefined) || (e.tiers?.length ?? 0) > 0;

const TOKEN_MODES = new Set(['chat', 'responses', 'completion']);
/** Same rule as isZeroPriced() in src/pricing/price-table.ts: the proxy bills such an entry nothing. */
export function isZeroPriced(e) {
  if (TOKEN_MODES.has(e.mode)) return !e.input && !e.output && !(e.tiers ?? []).some((t) => t.input || t.output);
  return !PRICE_FIELDS.some((f) => e[f]) && !(e.tiers ?? []).some((t) => TIER_FIELDS.some((f) => t[f]));
}

/**
 * Claude is sold with the same prompt-cache multipliers on every platform (Anthropic, Bedrock,
 * Vertex, OpenRouter pass-through): a 5-minute write is 1.25x the input price and a 1-hour write 2x,
 * in the base rate and in each long-context tier. LiteLLM leaves these out of most non-Anthropic
 * Claude rows and out of every tier, so those tokens would bill at the plain input rate (or, in a
 * tier, at the cheaper base-rate write). Fill what is missing; never replace a listed value.
 */
export function fillClaudeCacheWrites(id, e, derived) {
  if (!/claude/i.test(id) || e.mode !== 'chat' || !e.input) return;
  const fill = (obj, field, mult, label) => {
    if (obj[field] !== undefined || !obj.input) return;
    obj[field] = Math.ceil((obj.input * mult) / 100); // whole pico-USD, never rounded down
    derived.push({ id, field: label, from: `input x ${mult / 100} (Claude cache-write multiplier)` });
  };
  fill(e, 'cache_write', 125, 'cache_write');
  fill(e, 'cache_write_1h', 200, 'cache_write_1h');
  for (const t of e.tiers ?? []) {
    fill(t, 'cache_write', 125, `tiers[${t.above}].cache_write`);
    fill(t, 'cache_write_1h', 200, `tiers[${t.above}].cache_write_1h`);
  }
}

// ---------------------------------------------------------------------------------------------
// Overrides
// ---------------------------------------------------------------------------------------------

const OVERRIDE_TOKEN_FIELDS = ['input', 'output', 'cache_read', 'cache_write', 'cache_write_1h', 'batch_input', 'batch_output'];
const OVERRIDE_UNIT_FIELDS = ['per_image', 'per_second', 'per_character'];
const OVERRIDE_META_FIELDS = ['provider', 'mode', 'max_input_tokens', 'max_output_tokens', 'source', 'reason', 'replace', 'pin', 'evidence', 'free'];

/** Convert one override (USD per 1M tokens / USD per unit) into entry fields (pico-USD). */
export function convertOverride(id, o) {
  if (typeof o.reason !== 'string' || o.reason.trim().length < 10) throw new Error(`overrides.json: models["${id}"] needs a "reason" string`);
  const known = new Set([...OVERRIDE_TOKEN_FIELDS, ...OVERRIDE_UNIT_FIELDS, ...OVERRIDE_META_FIELDS, 'tiers', 'changes']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new Error(`overrides.json: models["${id}"] has unknown field "${k}"`);
  const out = {};
  const conv = (val, fn, what) => {
    const { value, exact, text } = fn(val);
    if (!exact) throw new Error(`overrides.json: models["${id}"].${what} = ${text} is not a whole number of pico-USD`);
    return value;
  };
  for (const f of OVERRIDE_TOKEN_FIELDS) if (o[f] !== undefined) out[f] = conv(o[f], usdPerMtokToPico, f);
  for (const f of OVERRIDE_UNIT_FIELDS) if (o[f] !== undefined) out[f] = conv(o[f], usdToPico, f);
  if (o.tiers !== undefined) {
    if (!Array.isArray(o.tiers)) throw new Error(`overrides.json: models["${id}"].tiers must be an array`);
    out.tiers = o.tiers
      .map((t, i) => {
        if (!Number.isInteger(t.above) || t.above <= 0) throw new Error(`overrides.json: models["${id}"].tiers[${i}].above must be a positive integer`);
        const tt = { above: t.above };
        for (const f of TIER_FIELDS) if (t[f] !== undefined) tt[f] = conv(t[f], usdPerMtokToPico, `tiers[${i}].${f}`);
        return tt;
      })
      .sort((a, b) => a.above - b.above);
  }
  if (o.changes !== undefined) out.changes = convertChanges(id, o.changes, conv);
  for (const f of ['provider', 'mode', 'max_input_tokens', 'max_output_tokens']) if (o[f] !== undefined) out[f] = o[f];
  if (o.free !== undefined) {
    if (o.free !== true) throw new Error(`overrides.json: models["${id}"].free must be true (omit it otherwise)`);
    out.free = true;
  }
  out.source = o.source ?? 'override';
  if (!['override', 'genai-prices', 'litellm'].includes(out.source)) throw new Error(`overrides.json: models["${id}"].source must be "override" or "genai-prices"`);
  return out;
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Dated price changes (`changes: [{ effective_from, reason, input?, ... }]`): each overrides the
 * fields it gives from its instant on. Converted like the entry's own prices; `effective_from`
 * is written as a UTC ISO instant so models.json compares and sorts them as text too.
 */
function convertChanges(id, changes, conv) {
  if (!Array.isArray(changes) || changes.length === 0) throw new Error(`overrides.json: models["${id}"].changes must be a non-empty array`);
  let prev = -Infinity;
  return changes.map((c, i) => {
    const at = `models["${id}"].changes[${i}]`;
    if (!c || typeof c !== 'object') throw new Error(`overrides.json: ${at} must be an object`);
    for (const k of Object.keys(c)) {
      if (![...OVERRIDE_TOKEN_FIELDS, ...OVERRIDE_UNIT_FIELDS, 'tiers', 'effective_from', 'reason'].includes(k)) throw new Error(`overrides.json: ${at} has unknown field "${k}"`);
    }
    if (typeof c.effective_from !== 'string' || !ISO_INSTANT.test(c.effective_from)) throw new Error(`overrides.json: ${at}.effective_from must be an ISO instant with a zone (2026-12-01T00:00:00Z)`);
    const t = Date.parse(c.effective_from);
    if (!(t > prev)) throw new Error(`overrides.json: ${at}.effective_from must be later than the change before it`);
    prev = t;
    if (typeof c.reason !== 'string' || c.reason.trim().length < 10) throw new Error(`overrides.json: ${at} needs a "reason" string`);
    const out = { effective_from: new Date(t).toISOString() };
    for (const f of OVERRIDE_TOKEN_FIELDS) if (c[f] !== undefined) out[f] = conv(c[f], usdPerMtokToPico, `changes[${i}].${f}`);
    for (const f of OVERRIDE_UNIT_FIELDS) if (c[f] !== undefined) out[f] = conv(c[f], usdToPico, `changes[${i}].${f}`);
    if (c.tiers !== undefined) {
      if (!Array.isArray(c.tiers)) throw new Error(`overrides.json: ${at}.tiers must be an array`);
      out.tiers = c.tiers.map((tr, j) => {
        if (!Number.isInteger(tr.above) || tr.above <= 0) throw new Error(`overrides.json: ${at}.tiers[${j}].above must be a positive integer`);
        const tt = { above: tr.above };
        for (const f of TIER_FIELDS) if (tr[f] !== undefined) tt[f] = conv(tr[f], usdPerMtokToPico, `changes[${i}].tiers[${j}].${f}`);
        return tt;
      }).sort((a, b) => a.above - b.above);
    }
    if (Object.keys(out).length === 1) throw new Error(`overrides.json: ${at} changes no price`);
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------------------------

/**
 * Pure table builder.
 * @param {Record<string, any>} litellm      parsed LiteLLM file
 * @param {any} overrides                    parsed overrides.json
 * @param {any} provenance                   object stored as generated_at_source.litellm
 * @param {{ overridesSha256?: string }} [opts]
 */
export function buildTable(litellm, overrides, provenance, opts = {}) {
  const notes = { rounded: [], derived: [] };
  const models = {};
  const skipped = { unpriced: [], out_of_scope: 0, reserved: 0 };
  const modeSet = new Set(MODES);

  for (const id of Object.keys(litellm).sort()) {
    if (RESERVED_KEYS.has(id)) {
      skipped.reserved++;
      continue;
    }
    const v = litellm[id];
    const fam = v && typeof v === 'object' ? familyOf(v.litellm_provider) : undefined;
    if (!fam || !modeSet.has(v.mode)) {
      skipped.out_of_scope++;
      continue;
    }
    const e = convertEntry(id, v, fam, notes);
    if (!hasPrice(e)) {
      skipped.unpriced.push(id);
      continue;
    }
    models[id] = e;
  }

  // Overrides, applied last.
  const overrideNotes = [];
  const warnings = [];
  for (const [id, o] of Object.entries(overrides.models ?? {})) {
    const conv = convertOverride(id, o);
    const prev = models[id];
    if (prev && !o.replace) {
      for (const f of [...PRICE_FIELDS, 'tiers']) {
        if (conv[f] === undefined) continue;
        const same = JSON.stringify(prev[f]) === JSON.stringify(conv[f]);
        overrideNotes.push({ id, field: f, upstream: prev[f], override: conv[f], same, pin: o.pin === true });
      }
      models[id] = { ...prev, ...conv };
    } else {
      if (!prev && (!conv.provider || !conv.mode)) {
        // A patch for a model the source no longer has (e.g. retired upstream): skip it loudly.
        warnings.push(`override models["${id}"] patches a model that is not in the LiteLLM source; skipped. Make it a full entry (provider, mode, prices) to keep the model, or delete it.`);
        continue;
      }
      if (!conv.provider || !conv.mode) throw new Error(`overrides.json: models["${id}"] uses "replace", so it needs "provider" and "mode"`);
      if (!modeSet.has(conv.mode)) throw new Error(`overrides.json: models["${id}"].mode "${conv.mode}" is not one of ${MODES.join(', ')}`);
      if (!hasPrice(conv)) throw new Error(`overrides.json: models["${id}"] has no price`);
      overrideNotes.push({ id, field: '*', upstream: prev ? 'replaced' : 'absent', override: 'entry', same: false });
      models[id] = conv;
    }
  }

  // Drop rounding/derivation notes for values an override replaced.
  const overridden = (id, field) => {
    const o = overrides.models?.[id];
    if (!o || !models[id] || models[id].source === 'litellm') return false;
    if (o.replace || !litellm[id]) return true;
    const top = field.startsWith('tiers[') ? 'tiers' : field;
    return o[top] !== undefined;
  };
  notes.rounded = notes.rounded.filter((n) => !overridden(n.id, n.field));
  notes.derived = notes.derived.filter((n) => !overridden(n.id, n.field));

  // Claude cache-write rates, after overrides (an override's input price is the one multiplied).
  for (const id of Object.keys(models).sort()) fillClaudeCacheWrites(id, models[id], notes.derived);

  // Aliases.
  const aliases = {};
  const addAlias = (alias, target) => {
    if (models[alias] || aliases[alias] || !models[target] || alias === target) return;
    aliases[alias] = target;
  };
  // Overrides' aliases first (they win over generated ones).
  for (const [alias, a] of Object.entries(overrides.aliases ?? {})) {
    if (typeof a?.reason !== 'string' || typeof a?.target !== 'string') throw new Error(`overrides.json: aliases["${alias}"] needs "target" and "reason"`);
    if (models[alias]) throw new Error(`overrides.json: alias "${alias}" is also a model id`);
    if (!models[a.target]) {
      warnings.push(`override alias "${alias}" points at "${a.target}", which is not in the table; skipped`);
      continue;
    }
    aliases[alias] = a.target;
  }
  // Anthropic's own alias scheme, pointing at the newest dated snapshot: `<family>-latest` for
  // Claude 3.5 / 3.7 / 3 Opus, `<family>-0` for Claude 4+ (claude-sonnet-4-0, claude-opus-4-0).
  const dated = new Map();
  for (const id of Object.keys(models)) {
    if (models[id].provider !== 'anthropic') continue;
    const m = /^(claude-.+)-(\d{8})$/.exec(id);
    if (!m) continue;
    const best = dated.get(m[1]);
    if (!best || best.date < m[2]) dated.set(m[1], { id, date: m[2] });
  }
  for (const [fam, { id }] of [...dated.entries()].sort()) {
    if (/^claude-3-(?:5-|7-|opus$)/.test(fam)) addAlias(`${fam}-latest`, id);
    if (/^claude-(opus|sonnet|haiku)-\d+$/.test(fam)) addAlias(`${fam}-0`, id);
  }
  // Bare ids of first-party prefixed providers.
  for (const [prefix, ownModel] of BARE_ALIAS_PREFIXES) {
    for (const id of Object.keys(models).sort()) {
      if (!id.startsWith(prefix)) continue;
      const bare = id.slice(prefix.length);
      if (bare.includes('/') || !ownModel.test(bare)) continue;
      addAlias(bare, id);
    }
  }

  // Counts.
  const byProvider = {};
  for (const e of Object.values(models)) {
    const c = (byProvider[e.provider] ??= { total: 0 });
    c.total++;
    c[e.mode] = (c[e.mode] ?? 0) + 1;
  }

  const table = {
    schema: 1,
    generated_at_source: {
      generator: 'pricing/generate.mjs',
      units: 'integer pico-USD (1e-12 USD) per token; per_image per generated image; per_second per second of audio; per_character per input character',
      litellm: provenance,
      overrides: { file: 'pricing/overrides.json', ...(opts.overridesSha256 ? { sha256: opts.overridesSha256 } : {}), models: Object.keys(overrides.models ?? {}).length, aliases: Object.keys(overrides.aliases ?? {}).length },
      scope: { providers: [...new Set(Object.values(PROVIDER_FAMILY)), 'vertex'].sort(), modes: MODES },
      counts: { models: Object.keys(models).length, aliases: Object.keys(aliases).length, by_provider: byProvider },
      skipped: { reserved_keys: skipped.reserved, out_of_scope: skipped.out_of_scope, unpriced: skipped.unpriced },
      // Entries whose prices are all $0 and that no override marks free: the proxy treats them as
      // unpriced (refused under the default unknownModel rule), never as free.
      zero_priced: Object.keys(models).filter((id) => !models[id].free && isZeroPriced(models[id])),
      rounded: notes.rounded,
      derived: notes.derived,
    },
    models,
    aliases,
  };
  return { table, overrideNotes, warnings };
}

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

const fmtPrice = (f, v) => {
  if (v === undefined) return '-';
  if (f.startsWith('per_')) return `$${Number(v) / 1e12}`;
  return `$${picoToUsdPerMtok(v)}/M`;
};

export function diffTables(prev, next) {
  const pm = prev?.models ?? {};
  const nm = next.models;
  const added = Object.keys(nm).filter((k) => !(k in pm)).sort();
  const removed = Object.keys(pm).filter((k) => !(k in nm)).sort();
  const repriced = [];
  const otherChanged = [];
  for (const id of Object.keys(nm).sort()) {
    if (!(id in pm)) continue;
    const a = pm[id];
    const b = nm[id];
    const changes = [];
    for (const f of PRICE_FIELDS) if (a[f] !== b[f]) changes.push(`${f} ${fmtPrice(f, a[f])} -> ${fmtPrice(f, b[f])}`);
    const ta = JSON.stringify(sortKeys(a.tiers ?? []));
    const tb = JSON.stringify(sortKeys(b.tiers ?? []));
    if (ta !== tb) changes.push(`tiers ${ta} -> ${tb}`);
    if (changes.length) repriced.push({ id, changes });
    else if (JSON.stringify(sortKeys(a)) !== JSON.stringify(sortKeys(b))) otherChanged.push(id);
  }
  const pa = prev?.aliases ?? {};
  const aliasChanges = [...new Set([...Object.keys(pa), ...Object.keys(next.aliases)])].filter((k) => pa[k] !== next.aliases[k]).sort();
  return { added, removed, repriced, otherChanged, aliasChanges, prevCount: Object.keys(pm).length, nextCount: Object.keys(nm).length };
}

export function formatDiff(d, maxLines = 50) {
  const lines = [];
  lines.push(`models: ${d.prevCount} -> ${d.nextCount}  (+${d.added.length} added, -${d.removed.length} removed, ~${d.repriced.length} re-priced, ${d.otherChanged.length} other field changes, ${d.aliasChanges.length} alias changes)`);
  const detail = [];
  for (const id of d.removed) detail.push(`  - ${id}`);
  for (const id of d.added) detail.push(`  + ${id}`);
  for (const r of d.repriced) detail.push(`  ~ ${r.id}: ${r.changes.join('; ')}`);
  for (const id of d.otherChanged) detail.push(`  * ${id} (limits/provider/mode/source)`);
  for (const a of d.aliasChanges) detail.push(`  @ alias ${a}`);
  lines.push(...detail.slice(0, maxLines));
  if (detail.length > maxLines) lines.push(`  ... and ${detail.length - maxLines} more lines`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

function parseArgs(argv) {
  const args = { source: undefined, genai: undefined, modelsDev: undefined, force: false, maxDrop: 0.3, check: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--force') args.force = true;
    else if (a === '--check') args.check = true;
    else if (a === '--quiet') args.quiet = true;
    else if (a === '--source' || a.startsWith('--source=')) args.source = val();
    else if (a === '--genai-prices' || a.startsWith('--genai-prices=')) args.genai = val();
    else if (a === '--models-dev' || a.startsWith('--models-dev=')) args.modelsDev = val();
    else if (a === '--max-drop' || a.startsWith('--max-drop=')) {
      const s = val();
      args.maxDrop = Number(s);
      if (!Number.isFinite(args.maxDrop) || args.maxDrop < 0 || args.maxDrop > 1) throw new Error(`--max-drop must be a fraction between 0 and 1, got ${s}`);
    } else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument: ${a}`);
  }
  return args;
}

async function loadSource(src) {
  if (src && /^https?:\/\//i.test(src)) {
    const res = await fetch(src, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`GET ${src}: HTTP ${res.status}`);
    const buf = Buffer.from(await res.arrayBuffer());
    return { buf, origin: src, isUrl: true, path: undefined };
  }
  const p = src ? path.resolve(src) : PATHS.source;
  return { buf: readFileSync(p), origin: p, isUrl: false, path: p };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`pricing: ${err.message}`);
    process.exit(2);
  }
  if (args.help) {
    console.log('usage: npm run pricing:update -- [--source FILE_OR_URL] [--genai-prices FILE_OR_URL] [--models-dev FILE_OR_URL] [--force] [--max-drop 0.3] [--check] [--quiet]');
    return;
  }
  const log = args.quiet ? () => {} : (...a) => console.log(...a);

  const src = await loadSource(args.source);
  const srcSha = sha256(src.buf);
  let litellm;
  try {
    litellm = JSON.parse(src.buf.toString('utf8'));
  } catch (err) {
    console.error(`pricing: ${src.origin} is not valid JSON: ${err.message}`);
    process.exit(1);
  }
  if (!litellm || typeof litellm !== 'object' || Array.isArray(litellm)) {
    console.error(`pricing: ${src.origin} is not a LiteLLM price map`);
    process.exit(1);
  }

  // Provenance: the SOURCE.json record if it describes these exact bytes.
  const sourceJson = existsSync(PATHS.sourceJson) ? JSON.parse(readFileSync(PATHS.sourceJson, 'utf8')) : { schema: 1, files: {} };
  const isVendored = !args.source || (src.path && path.resolve(src.path) === PATHS.source);
  const rec = sourceJson.files?.[SOURCE_KEY];
  let newRecord;
  if (rec && rec.sha256 === srcSha) {
    newRecord = rec;
  } else {
    newRecord = {
      role: rec?.role ?? 'primary',
      what: rec?.what ?? 'LiteLLM model_prices_and_context_window.json',
      upstream: rec?.upstream ?? 'https://github.com/BerriAI/litellm/blob/main/model_prices_and_context_window.json',
      upstream_commit: null,
      origin: src.isUrl ? src.origin : `local file ${path.basename(src.origin)} (record the real origin and commit here by hand)`,
      date: null,
      retrieved_at: new Date().toISOString(),
      sha256: srcSha,
      bytes: src.buf.length,
      license: rec?.license ?? 'MIT, Copyright (c) 2023 Berri AI (sources/LICENSES/litellm.LICENSE)',
    };
    if (isVendored) log(`pricing: warning: ${SOURCE_KEY} does not match the sha256 recorded in SOURCE.json; provenance marked unknown`);
  }
  const provenance = {
    file: `pricing/sources/${SOURCE_KEY}`,
    origin: newRecord.origin,
    upstream: newRecord.upstream,
    upstream_commit: newRecord.upstream_commit ?? null,
    date: newRecord.date ?? null,
    sha256: srcSha,
    entries: Object.keys(litellm).length,
  };

  const overridesBuf = readFileSync(PATHS.overrides);
  const overrides = JSON.parse(overridesBuf.toString('utf8'));
  let built;
  try {
    built = buildTable(litellm, overrides, provenance, { overridesSha256: sha256(overridesBuf) });
  } catch (err) {
    console.error(`pricing: ${err.message}`);
    process.exit(1);
  }
  const { table, overrideNotes, warnings } = built;
  for (const w of warnings) console.error(`pricing: WARNING: ${w}`);
  const text = serialize(table);

  const prevText = existsSync(PATHS.out) ? readFileSync(PATHS.out, 'utf8') : undefined;
  let prev;
  try {
    prev = prevText ? JSON.parse(prevText) : undefined;
  } catch {
    prev = undefined;
  }
  const d = diffTables(prev, table);
  const c = table.generated_at_source.counts;

  log(`pricing: source ${src.origin}`);
  log(`pricing: sha256 ${srcSha}, ${provenance.entries} LiteLLM keys -> ${c.models} models, ${c.aliases} aliases`);
  log(
    `pricing: per provider: ${Object.entries(c.by_provider)
      .sort((a, b) => b[1].total - a[1].total)
      .map(([p, n]) => `${p} ${n.total}`)
      .join(', ')}`,
  );
  const rounded = table.generated_at_source.rounded.length;
  if (rounded) log(`pricing: ${rounded} value(s) were not whole pico-USD and were rounded half-up (listed in generated_at_source.rounded)`);
  for (const n of overrideNotes) {
    if (n.field === '*') continue;
    const show = (v) => (v === undefined ? '-' : JSON.stringify(v));
    // A pinned override keeps a deliberately chosen value: report when upstream moves away from it.
    if (n.pin && !n.same) log(`pricing: REVIEW: upstream ${n.id}.${n.field} is now ${show(n.upstream)}, the pinned override keeps ${show(n.override)}`);
    if (!n.pin && n.same) log(`pricing: note: override ${n.id}.${n.field} now equals the upstream value; consider removing it`);
  }
  log(formatDiff(d));

  // Cross-check summary against genai-prices (informational; the test enforces it).
  if (!args.quiet) {
    try {
      const { crossCheck, unexplained, genaiSourceFile } = await import('./crosscheck.mjs');
      const genai = JSON.parse(readFileSync(path.join(HERE, 'sources', genaiSourceFile(sourceJson)), 'utf8'));
      const known = existsSync(PATHS.known) ? JSON.parse(readFileSync(PATHS.known, 'utf8')) : { disagreements: {} };
      const cc = crossCheck(table, genai, { at: known.genai_prices_at });
      const un = unexplained(cc.disagreements, overrides, known);
      log(`pricing: genai-prices cross-check: ${cc.compared} compared, ${cc.disagreements.length} field disagreements, ${un.length} not yet explained in overrides.json / known-disagreements.json`);
      for (const x of un.slice(0, 30)) log(`  ! ${x.id} ${x.field}: ours $${x.ours}/M, genai-prices $${x.genai}/M [${x.genai_model}]`);
    } catch (err) {
      log(`pricing: cross-check skipped: ${err.message}`);
    }
  }

  // Vendor-verified prices: the new table against them, and each second-opinion source against them.
  const verified = existsSync(PATHS.verified) ? JSON.parse(readFileSync(PATHS.verified, 'utf8')) : undefined;
  let lowered = [];
  let extraGenai;
  let extraModelsDev;
  if (verified) {
    const vd = verifiedDiff(table, verified);
    lowered = vd.filter((r) => r.lower);
    log(`pricing: vendor-verified prices: ${verified.prices?.length ?? 0} models; the new table differs on ${vd.length} field(s), ${lowered.length} of them lower`);
    if (vd.length) log(formatRows('pricing: table vs vendor-verified', vd));
    const upstream = buildTable(litellm, { models: {}, aliases: {} }, provenance).table;
    const su = sourceDiff(verified, (m) => upstream.models[m] && Object.fromEntries(Object.entries(upstream.models[m]).map(([k, v]) => [k, typeof v === 'number' ? Number(picoToUsdPerMtok(v)) : k === 'tiers' ? v.map((t) => Object.fromEntries(Object.entries(t).map(([a, b]) => [a, a === 'above' ? b : Number(picoToUsdPerMtok(b))]))) : v])));
    log(formatRows('pricing: LiteLLM source (before overrides) vs vendor-verified', su, 20));
    const genaiFile = args.genai ? await loadSource(args.genai) : undefined;
    if (genaiFile) extraGenai = genaiFile;
    try {
      const { genaiSourceFile } = await import('./crosscheck.mjs');
      const gbuf = genaiFile?.buf ?? readFileSync(path.join(HERE, 'sources', genaiSourceFile(sourceJson)));
      const raw = JSON.parse(gbuf.toString('utf8'));
      const genai = Array.isArray(raw) ? raw : raw.providers ?? raw;
      const known = existsSync(PATHS.known) ? JSON.parse(readFileSync(PATHS.known, 'utf8')) : {};
      log(formatRows(`pricing: genai-prices${genaiFile ? ` (${genaiFile.origin})` : ''} vs vendor-verified`, sourceDiff(verified, (m, p) => genaiPricesFor(genai, m, p, known.genai_prices_at)), 20));
    } catch (err) {
      log(`pricing: genai-prices vs vendor-verified skipped: ${err.message}`);
    }
    const mdFile = args.modelsDev ? await loadSource(args.modelsDev) : existsSync(PATHS.modelsDev) ? { buf: readFileSync(PATHS.modelsDev), origin: PATHS.modelsDev } : undefined;
    if (args.modelsDev) extraModelsDev = mdFile;
    if (mdFile) {
      try {
        const catalog = JSON.parse(mdFile.buf.toString('utf8'));
        log(formatRows(`pricing: models.dev (${mdFile.origin}) vs vendor-verified`, sourceDiff(verified, (m, p) => modelsDevPricesFor(catalog, m, p)), 20));
      } catch (err) {
        log(`pricing: models.dev vs vendor-verified skipped: ${err.message}`);
      }
    }
  }
  if (lowered.length) {
    console.error(formatRows('pricing: REFUSING: the new table is LOWER than a vendor-verified price', lowered));
    console.error('pricing: fix it in overrides.json (with a reason), or, if the vendor really lowered the price, update pricing/sources/vendor-verified.json with the page and date first.');
    process.exit(1);
  }

  if (args.check) {
    if (prevText === text) {
      console.log('pricing: --check: models.json is up to date');
      return;
    }
    console.error(`pricing: --check: models.json is out of date (${prevText === undefined ? 'missing' : 'differs'}); run npm run pricing:update`);
    process.exit(1);
  }

  if (d.prevCount > 0 && d.removed.length / d.prevCount > args.maxDrop) {
    const frac = ((d.removed.length / d.prevCount) * 100).toFixed(1);
    if (!args.force) {
      console.error(`pricing: REFUSING to write: ${d.removed.length} of ${d.prevCount} models (${frac}%) would be removed, more than --max-drop ${args.maxDrop}. Check the source, or re-run with --force.`);
      process.exit(1);
    }
    console.error(`pricing: --force: writing although ${frac}% of models are removed`);
  }

  if (prevText === text) {
    log('pricing: models.json unchanged');
  } else {
    writeFileSync(PATHS.out, text);
    log(`pricing: wrote ${path.relative(process.cwd(), PATHS.out) || PATHS.out} (${text.length} bytes)`);
  }
  // Second-opinion files given on the command line become the vendored copies.
  if (extraGenai) {
    const raw = JSON.parse(extraGenai.buf.toString('utf8'));
    const arr = Array.isArray(raw) ? raw : raw.providers;
    if (!Array.isArray(arr)) throw new Error(`${extraGenai.origin}: not a genai-prices provider array`);
    writeFileSync(PATHS.genaiLatest, JSON.stringify(arr, null, 1) + '\n');
    const files = { ...(sourceJson.files ?? {}) };
    for (const [k, r] of Object.entries(files)) if (typeof r?.role === 'string' && r.role.startsWith('cross-check')) files[k] = { ...r, role: `superseded by genai_prices_latest.json (${new Date().toISOString().slice(0, 10)}); kept for history, delete when convenient` };
    files['genai_prices_latest.json'] = { role: 'cross-check only (test/pricing/crosscheck.test.ts, generate.mjs summary); not copied into models.json', origin: extraGenai.origin, retrieved_at: new Date().toISOString(), sha256: sha256(extraGenai.buf), bytes: extraGenai.buf.length, license: 'MIT, Copyright (c) Pydantic Services Inc. 2025 to present (sources/LICENSES/genai-prices.LICENSE)' };
    sourceJson.files = files;
    writeFileSync(PATHS.sourceJson, JSON.stringify(sourceJson, null, 1) + '\n');
    log('pricing: saved genai-prices as pricing/sources/genai_prices_latest.json (the cross-check file now); set genai_prices_at in known-disagreements.json to its date');
  }
  if (extraModelsDev) {
    writeFileSync(PATHS.modelsDev, extraModelsDev.buf);
    sourceJson.files = { ...(sourceJson.files ?? {}), 'models_dev_catalog.json': { role: 'third vote: compared with the vendor-verified list on every pricing:update run; never priced from', origin: extraModelsDev.origin, retrieved_at: new Date().toISOString(), sha256: sha256(extraModelsDev.buf), bytes: extraModelsDev.buf.length, license: 'MIT, Copyright (c) 2025 models.dev (sources/LICENSES/models.dev.LICENSE)' } };
    writeFileSync(PATHS.sourceJson, JSON.stringify(sourceJson, null, 1) + '\n');
    log('pricing: saved models.dev as pricing/sources/models_dev_catalog.json');
  }
  // Adopt a non-default source so that the default run reproduces this table.
  if (!isVendored) {
    writeFileSync(PATHS.source, src.buf);
    sourceJson.files = { ...(sourceJson.files ?? {}), [SOURCE_KEY]: newRecord };
    writeFileSync(PATHS.sourceJson, JSON.stringify(sourceJson, null, 1) + '\n');
    log(`pricing: saved the source over pricing/sources/${SOURCE_KEY} and updated SOURCE.json (fill in upstream_commit and date by hand)`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`pricing: ${err.stack ?? err}`);
    process.exit(1);
  });
}
