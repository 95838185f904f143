import { errorBody } from '../http/errors.js';
import { costHeader } from './cost-header.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { EndpointId, ParsedCall } from '../protocols/call.js';
import { readJsonAnswer, type JsonAnswer } from '../protocols/json-answer.js';
import type { UsageRecord } from '../store/usage-record.js';
import { answerText } from './answer-text.js';
import type { Relayed } from './billed-usage.js';
import type { CallRun } from './call-run.js';
import { redactSecrets } from './redact-secrets.js';
import { tightestRemaining } from './refusal.js';
import type { Answer } from './upstream-attempts.js';

// Whole (non-streamed) answers: an upstream error goes back as written (in
// the client's protocol, provider keys redacted, nothing charged); a success
// is priced from its reported usage (else our own count: billed-usage.ts),
// committed, then sent with its cost and the tightest budget's remainder;
// it is billed even when the client has left (the provider charged).

export async function relayError(c: CallRun, answer: Answer, row: UsageRecord): Promise<void> {
  const { ctx, ex } = c;
  const { target, head, translation } = answer;
  const contentType = head.contentType;
  let bytes: Buffer | string = answer.body?.length ? answer.body : JSON.stringify(errorBody(c.protocol, 'upstream_error', `upstream answered ${head.status}`));
  if (translation && answer.body?.length) bytes = JSON.stringify(translation.error(answer.body.toString('utf8')));
  bytes = redactSecrets(bytes, [target.provider.apiKey]);
  row.status = head.status;
  row.reason = [row.reason, `upstream_status_${head.status}`].filter(Boolean).join('; ').slice(0, 500);
  await ctx.ledger.append(row);
  // The provider refused Tollgate's own key: the operator must know (the client's key was fine).
  if (head.status === 401 || head.status === 403) ctx.log('error', 'provider refused its credentials', { request_id: c.requestId, provider: target.provider.name, status: head.status });
  c.count(head.status, 'upstream_error');
  const headers: Record<string, string> = { 'content-type': translation ? 'application/json' : contentType || 'application/json', 'x-tollgate-request-id': c.requestId };
  const ra = head.retryAfter;
  if (typeof ra === 'string') headers['retry-after'] = ra;
  ex.send(head.status, headers, bytes);
}

/**
 * What a whole answer relayed: its text is read only when our own count is
 * needed (billed-usage.ts). A class, not an object literal with a getter,
 * which V8 keeps in dictionary mode (an allocation and slow reads per call).
 */
class WholeAnswer implements Relayed {
  readonly textComplete: boolean;
  readonly #endpoint: EndpointId;
  readonly #read: JsonAnswer;

  constructor(endpoint: EndpointId, read: JsonAnswer, readonly bytes: number) {
    this.#endpoint = endpoint;
    this.#read = read;
    this.textComplete = read.valid;
  }

  get text(): string {
    return answerText(this.#endpoint, this.#read.json());
  }
}

export async function relayJson(c: CallRun, call: ParsedCall, answer: Answer, row: UsageRecord, refs: readonly BudgetRef[]): Promise<void> {
  const { ctx, ex } = c;
  const { target, head, translation, upstreamEndpoint } = answer;
  const contentType = head.contentType;
  let bytes: Buffer | string = answer.body!;
  const read = readJsonAnswer(upstreamEndpoint, answer.body!);
  const { reported } = read;
  const relayed = new WholeAnswer(upstreamEndpoint, read, bytes.length);
  const billed = c.bill(row, call, target, reported.model, reported.usage, relayed, true);
  const cost = typeof billed === 'number' ? billed : await billed;
  const whole = translation ? (read.json() as Record<string, unknown> | undefined) : undefined;
  if (translation && whole) bytes = JSON.stringify(translation.answer(whole, Math.floor(Date.now() / 1000)));
  // A client that hung up after the call was forwarded: the provider still charges, so the answer was read and is billed.
  row.status = ex.aborted ? 499 : head.status;
  if (ex.aborted) row.reason = [row.reason, 'client_disconnected'].filter(Boolean).join('; ').slice(0, 500);
  await ctx.ledger.append(row);
  c.count(row.status, 'allowed');
  const remaining = tightestRemaining(refs, ctx.table);
  ex.send(head.status, {
    'content-type': contentType || 'application/json',
    'x-tollgate-request-id': c.requestId,
    'x-tollgate-cost': costHeader(cost),
    'x-tollgate-budget-remaining': remaining ? `${remaining.value} ${remaining.unit}` : 'unlimited',
  }, bytes);
}
