import type { ErrorType } from '../http/errors.js';
import { upstreamBody, type EndpointId, type ParsedCall } from '../protocols/call.js';
import type { Translation } from '../protocols/translate/translation.js';
import { translationFor } from '../protocols/translate/translation-for.js';
import { upstreamEndpointFor } from '../protocols/translate/upstream-endpoint.js';
import type { RoutedPlan, Target } from '../routing/route-table.js';
import { failureKind, retryAfterMs } from '../routing/retry-policy.js';
import type { TargetHealth } from '../routing/target-health.js';
import type { UsageRecord } from '../store/usage-record.js';
import { describeError, type ClientProtocolHeaders } from './upstream-request.js';
import type { UpstreamHead } from './upstream-exchange.js';

// The fallback loop: try the planned targets in order until one answers.
// An attempt is retryable only while nothing has reached the client, so a
// non-stream answer is read whole, and a stream's first chunk awaited,
// before the answer is accepted. Each outcome feeds the target's breaker.
// Policy (what is retryable, how many attempts) comes from the route's
// RetryPolicy; the sending itself (`dispatch`) and the clocks are injected,
// so the loop is tested without sockets (test/proxy/upstream-attempts.test.ts).

export interface AttemptRecord { target: string; error: string }

/** A usage row that also lists the attempts that did not answer. */
export type RoutedRow = UsageRecord & { attempts?: AttemptRecord[] };

/** One request in flight to a target: what the loop and the relays read from it. */
export interface UpstreamCall {
  readonly head: Promise<UpstreamHead>;
  /** The whole body. */
  readAll(): Promise<Buffer>;
  /** The whole body when all of it has arrived (nothing failed), without waiting; else undefined. A small answer has usually arrived with its head. */
  arrivedWhole?(): Buffer | undefined;
  /**
   * The next chunk, or null at the end; `all`: every chunk that has arrived, as one.
   * `before` (a chunk taken earlier) is joined in front of all that has arrived: one copy of the batch, not two.
   * What is already here comes back at once (no promise); a failure may be thrown at once too.
   */
  next(all?: boolean, before?: Buffer): Buffer | null | Promise<Buffer | null>;
  /** Every chunk that has arrived, as they came, or null at the end (waits only when none has): for a reader that needs their edges. */
  chunks(): Buffer[] | null | Promise<Buffer[] | null>;
  /** Chunks have arrived that next() has not taken (a stream relayed in batches takes them with its first chunk). */
  arrived?(): boolean;
  abort(reason: Error): void;
}

export interface AttemptDeps {
  health: TargetHealth;
  /** Wall clock (ms): breaker cooldowns and deadlines. */
  now: () => number;
  /** Monotonic clock (ms): time to the answer's head. */
  elapsed: () => number;
  /** Output cap to send a target of the other protocol when the client set none (Anthropic requires one). */
  defaultMaxTokens: (target: Target) => number;
  /** Sends the request (with the client's protocol headers); the answer arrives through the returned call. */
  dispatch: (target: Target, upstreamEndpoint: EndpointId, body: Buffer, contentType: string | undefined, client: ClientProtocolHeaders) => UpstreamCall;
}

export interface Answer {
  target: Target;
  up: UpstreamCall;
  head: UpstreamHead;
  upstreamEndpoint: EndpointId;
  /** Set when the target speaks the other protocol. */
  translation: Translation | undefined;
  /** The whole body (non-stream answers and errors). */
  body?: Buffer;
  /** A stream's first chunk (null: the stream was empty). */
  first?: Buffer | null;
}

/**
 * `sentFailed`: targets whose attempt failed after its connection was made
 * (timeout, reset, a broken or oversized answer), before the call was
 * cancelled. The request may have reached the provider, who then charges its
 * prompt, so the call bills them (settle.ts). A connect failure sent nothing.
 */
export type AttemptsResult =
  | { kind: 'answer'; answer: Answer; attempts: AttemptRecord[]; sentFailed: Target[] }
  | { kind: 'none'; type: ErrorType; message: string; retryAfterSec?: number; attempts: AttemptRecord[]; unanswered?: Target; sentFailed: Target[] }
  | { kind: 'aborted'; attempts: AttemptRecord[]; unanswered?: Target; sentFailed: Target[] };

/** The call's side of the loop (implemented by ModelCall: no object or closure per call). */
export interface AttemptControl {
  /** The attempt in flight. */
  up: UpstreamCall | undefined;
  /** Set when the call is cancelled (client gone, total timeout, shutdown). */
  cancelled: Error | undefined;
  /** The client's protocol headers, passed on to dispatch. */
  readonly h: ClientProtocolHeaders;
  clientGone(): boolean;
  /** Moves the call's total-time deadline (each attempt gets its target's total). */
  setDeadline(at: number): void;
}

export async function tryTargets(deps: AttemptDeps, call: ParsedCall, plan: RoutedPlan, clamped: number | undefined, control: AttemptControl): Promise<AttemptsResult> {
  const { health, now } = deps;
  const attempts: AttemptRecord[] = plan.skipped.length ? plan.skipped.map((s) => ({ target: s.target.id, error: `skipped: cooling down until ${new Date(s.until).toISOString()}` })) : [];
  let soonest = plan.skipped.length ? Math.min(Infinity, ...plan.skipped.map((s) => s.until)) : Infinity;
  let passThrough: Answer | undefined;
  let untranslatable: string | undefined;
  let tried = 0;
  let timeouts = 0;
  /** The target whose request was in flight when the call was cancelled: it may have reached the provider, who then charges. */
  let unanswered: Target | undefined;
  const sentFailed: Target[] = [];

  for (const target of plan.targets) {
    if (isCancelled(control) || tried >= plan.retry.maxAttempts) break;
    const upstreamEndpoint = upstreamEndpointFor(call.endpoint, target.provider.type)!;
    const translation = translationFor(call.endpoint, upstreamEndpoint);
    let payload: string | Buffer;
    let contentType: string | undefined;
    if (call.upstreamPayload) {
      // A multipart upload: the client's bytes, only its model field rewritten.
      ({ body: payload, contentType } = call.upstreamPayload(target.model));
    } else if (translation) {
      // Anthropic requires an output cap; an OpenAI client may not have sent one.
      const maxTokens = clamped ?? call.maxOutputTokens ?? deps.defaultMaxTokens(target);
      const req = translation.request(call, { model: target.model, maxTokens });
      if (!req.ok) {
        untranslatable = req.problem;
        attempts.push({ target: target.id, error: `not translatable: ${req.problem}` });
        continue;
      }
      payload = req.body;
    } else {
      payload = upstreamBody(call, target.model, clamped);
    }
    const admission = health.admit(target, now());
    if (!admission.go) {
      soonest = Math.min(soonest, admission.until);
      attempts.push({ target: target.id, error: 'skipped: its probe is in flight' });
      continue;
    }
    const probe = admission.probe;
    tried++;
    control.setDeadline(now() + target.timeouts.total);
    const started = deps.elapsed();
    const up = (control.up = deps.dispatch(target, upstreamEndpoint, typeof payload === 'string' ? Buffer.from(payload) : payload, contentType, control.h));
    try {
      const head = await up.head;
      const headMs = deps.elapsed() - started;
      const answer: Answer = { target, up, head, upstreamEndpoint, translation };
      if (plan.retry.retriesStatus(head.status)) {
        // Error bodies are small; reading them keeps the connection alive and lets the last one go back to the client.
        answer.body = await up.readAll().catch(() => Buffer.alloc(0));
        const error = `HTTP ${head.status}`;
        const at = now();
        health.failed(target, probe, at, error, head.status === 429 ? retryAfterMs(head.retryAfter, at) : undefined);
        attempts.push({ target: target.id, error });
        passThrough = answer;
        continue;
      }
      const ok = head.status >= 200 && head.status < 300;
      if (ok && call.stream && head.contentType.includes('text/event-stream')) {
        answer.first = await up.next();
      } else if (ok) {
        answer.body = up.arrivedWhole?.() ?? (await up.readAll());
      } else {
        // Not retryable (400, 401, 404, ...): the request's fault, not the target's; it goes back unchanged.
        answer.body = await up.readAll().catch(() => Buffer.alloc(0));
      }
      health.succeeded(target, probe, headMs);
      return { kind: 'answer', answer, attempts, sentFailed };
    } catch (err) {
      if (isCancelled(control)) {
        health.abandoned(target, probe);
        unanswered = target;
        break;
      }
      const e = err as { code?: string; cause?: { code?: string } };
      const kind = failureKind(e?.code ?? e?.cause?.code);
      const error = describeError(err);
      attempts.push({ target: target.id, error });
      if (kind !== 'connect') sentFailed.push(target);
      if (kind === 'other') {
        health.abandoned(target, probe);
        return { kind: 'none', type: 'upstream_error', message: `the upstream answer failed: ${error}`, attempts, sentFailed };
      }
      if (kind === 'timeout') timeouts++;
      health.failed(target, probe, now(), error);
      if (!plan.retry.retriesFailure(kind)) break;
    }
  }

  if (control.clientGone()) return { kind: 'aborted', attempts, sentFailed, ...(unanswered ? { unanswered } : {}) };
  if (control.cancelled) return { kind: 'none', type: 'upstream_timeout', message: `the call was cancelled: ${control.cancelled.message}`, attempts, sentFailed, ...(unanswered ? { unanswered } : {}) };
  // Every retry used up on error answers: the last one goes back as the upstream wrote it.
  if (passThrough) return { kind: 'answer', answer: passThrough, attempts, sentFailed };
  const list = attempts.map((a) => `${a.target}: ${a.error}`).join('; ');
  if (tried === 0 && untranslatable !== undefined && soonest === Infinity) {
    return { kind: 'none', type: 'invalid_request_error', message: `no target of "${plan.logical}" can serve this request: ${untranslatable}`, attempts, sentFailed };
  }
  if (tried === 0) {
    const retryAfterSec = Number.isFinite(soonest) ? Math.max(1, Math.ceil((soonest - now()) / 1000)) : 1;
    return { kind: 'none', type: 'overloaded_error', message: `every target of "${plan.logical}" is cooling down after repeated failures; retry in ${retryAfterSec} s (${list})`, retryAfterSec, attempts, sentFailed };
  }
  if (timeouts === tried) return { kind: 'none', type: 'upstream_timeout', message: `no upstream answered in time: ${list}`, attempts, sentFailed };
  return { kind: 'none', type: 'upstream_error', message: `no upstream answered: ${list}`, attempts, sentFailed };
}

const isCancelled = (control: AttemptControl): boolean => control.clientGone() || control.cancelled !== undefined;

/** `target: error; ...` for the row's reason. */
export function attemptSummary(attempts: AttemptRecord[]): string {
  return attempts.map((a) => `${a.target}: ${a.error}`).join('; ');
}
