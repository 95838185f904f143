import type { CallUsage, ParsedCall } from '../protocols/call.js';
import type { ReportedUsage, UsageProblem } from '../protocols/usage-from-body.js';
import { promptParts } from '../tokenize/token-counter.js';
import type { CountResult } from '../tokenize/worker.js';

// Which usage a call is billed for. The provider's report when it is there,
// complete and possible; otherwise our own count of what was sent and
// relayed, which is an upper bound whenever it is not exact:
//
// - prompt: tiktoken on the prompt's text (long unbroken runs cut, which only
//   raises the count) plus one token per id of token-id arrays; when the
//   request carries media (images, audio, files: text counting cannot see
//   them) at least the call's own estimate. A count that failed or ran out
//   of time falls back to UTF-8 bytes, an upper bound by construction, or to
//   the call's estimate when that is lower (it is an upper bound too). A
//   call whose provider adds stored input (estimate/stored-context.ts) is
//   billed the model's context window: its body bounds none of that input.
// - completion: tiktoken on the generated text; when that text was not all
//   kept, or the count fell back, the bytes received from the upstream
//   (tokens never outnumber bytes); a stream abandoned before its usage at
//   least its output hold (a reasoning model's hidden tokens are not in it).
// - a reported field that is missing, negative, not an integer, or beyond
//   what the call could use (the model's context window, far beyond the
//   output cap × n) is replaced by our count and the row says so; cache
//   fields that are invalid read 0 (their tokens are then billed as plain
//   prompt tokens, which cost at least as much as cache reads).

export interface Relayed {
  /** Generated text kept from the answer. */
  text: string;
  /** False when `text` is not all that was generated. */
  textComplete: boolean;
  /** Answer bytes received from the upstream: the ceiling for output tokens. */
  bytes: number;
  /**
   * Output tokens the provider may have charged unseen: an abandoned stream
   * that ended before its usage may have reasoned (hidden tokens) up to its
   * output hold, which it is then billed at least.
   */
  atLeast?: number;
}

export interface UsageLimits {
  /** The model's context window, when the price table knows it. */
  maxPrompt?: number;
  /** The most output the call could produce: its output cap × n. */
  maxOutput?: number;
}

export interface BilledUsage {
  usage: CallUsage;
  source: 'provider' | 'tokenizer' | 'estimate';
  /** What was wrong with the provider's usage, for the row and the alert. */
  invalid?: string;
}

export type Count = (texts: string[]) => Promise<CountResult>;

/** Output tokens a call may be billed: the cap sent upstream, plus a predicted output the provider may reject, times the choices asked for. */
export function outputCeiling(call: ParsedCall, cap: number | undefined): number | undefined {
  if (cap === undefined) return undefined;
  return (cap + call.predictionTokens) * call.choices;
}

/** Problems of a report that parsed but cannot be true for this call. */
export function impossible(u: ReportedUsage, limits: UsageLimits): UsageProblem[] {
  const out: UsageProblem[] = [];
  if (limits.maxPrompt !== undefined && u.promptTokens > limits.maxPrompt * 1.25 + 1000) out.push({ field: 'promptTokens', detail: `prompt_tokens=${u.promptTokens} beyond the model's context of ${limits.maxPrompt}` });
  if (limits.maxOutput !== undefined && u.completionTokens > limits.maxOutput * 2 + 16) out.push({ field: 'completionTokens', detail: `completion_tokens=${u.completionTokens} beyond max_tokens × n = ${limits.maxOutput}` });
  if (u.cachedTokens > u.promptTokens) out.push({ field: 'cachedTokens', detail: `cached_tokens=${u.cachedTokens} above prompt_tokens=${u.promptTokens}` });
  return out;
}

/** The provider's report as it is, when it is there, possible and the answer complete (no count needed); else undefined. */
export function providerUsage(reported: ReportedUsage | undefined, limits: UsageLimits, complete: boolean): BilledUsage | undefined {
  if (!reported || !complete || reported.problems.length) return undefined;
  if (impossible(reported, limits).length) return undefined;
  return { usage: strip(reported), source: 'provider' };
}

/** Our own count of the call's prompt and of what was relayed (see the rules above). */
export async function ownCount(count: Count, call: ParsedCall, relayed: Relayed): Promise<{ usage: CallUsage; exact: boolean }> {
  const parts = promptParts(call.body);
  const r = await count([parts.text, relayed.textComplete ? relayed.text : '']);
  let prompt = r.counts[0]! + parts.tokenIds;
  if (parts.media) prompt = Math.max(prompt, call.promptTokensEstimate);
  // A count that fell back to bytes is an upper bound; so is the estimate, which is usually far tighter.
  else if (!r.exact) prompt = Math.min(prompt, call.promptTokensEstimate);
  const counted = relayed.textComplete ? r.counts[1]! : Math.max(r.counts[1]!, relayed.bytes);
  const completion = Math.max(counted, relayed.atLeast ?? 0);
  return { usage: { promptTokens: prompt, completionTokens: completion, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 }, exact: r.exact && relayed.textComplete && completion === counted };
}

/**
 * `complete`: the answer ended normally (a stream with its terminal event).
 * An interrupted answer keeps the provider's prompt but bills at least what
 * we counted of the output.
 */
export async function billedUsage(count: Count, call: ParsedCall, reported: ReportedUsage | undefined, relayed: Relayed, limits: UsageLimits, complete: boolean): Promise<BilledUsage> {
  const direct = providerUsage(reported, limits, complete);
  if (direct) return direct;
  const problems = reported ? [...reported.problems, ...impossible(reported, limits)] : [];
  const own = await ownCount(count, call, relayed);
  // Input the provider added from stored state (previous_response_id, ...) is not in the body: the context window bounds it.
  if (call.storedContext && limits.maxPrompt !== undefined && own.usage.promptTokens < limits.maxPrompt) {
    own.usage.promptTokens = limits.maxPrompt;
    own.exact = false;
  }
  const source = own.exact ? 'tokenizer' : 'estimate';
  if (!reported) return { usage: own.usage, source };
  const bad = new Set(problems.map((p) => p.field));
  const usage = strip(reported);
  if (bad.has('promptTokens')) usage.promptTokens = own.usage.promptTokens;
  if (bad.has('completionTokens')) usage.completionTokens = own.usage.completionTokens;
  if (bad.has('cachedTokens') || bad.has('promptTokens')) usage.cachedTokens = 0;
  if (bad.has('cacheWriteTokens') || bad.has('cacheWrite1hTokens') || bad.has('promptTokens')) usage.cacheWriteTokens = usage.cacheWrite1hTokens = 0;
  if (!complete) {
    usage.promptTokens ||= own.usage.promptTokens;
    usage.completionTokens = Math.max(usage.completionTokens, own.usage.completionTokens);
  }
  return { usage, source, ...(problems.length ? { invalid: problems.map((p) => p.detail).join(', ').slice(0, 300) } : {}) };
}

function strip(u: ReportedUsage): CallUsage {
  return { promptTokens: u.promptTokens, completionTokens: u.completionTokens, cachedTokens: u.cachedTokens, cacheWriteTokens: u.cacheWriteTokens, cacheWrite1hTokens: u.cacheWrite1hTokens };
}
