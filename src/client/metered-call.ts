import type { Endpoint } from './endpoints.js';
import { TollgateUnavailableError } from './errors.js';
import { GatedCall, type WithResponse } from './gated-call.js';
import { tokensOfChars } from './prompt-estimate.js';
import type { StreamMeter } from './stream-usage.js';
import type { Authorization, TollgateApi } from './tollgate-api.js';
import type { Used } from './usage.js';

// One model call through the wrapper: authorize with Tollgate (a refusal is
// thrown before the provider is called), call the provider with the model
// and cap Tollgate answered, then charge what the provider reported under an
// idempotency key, or return the hold if the call failed.
//
// Charging rule when the provider's usage is missing (a stream abandoned or
// cut before its usage event, an answer without usage): the prompt estimate
// the hold was made with, plus ceil(generated characters / 4) output tokens.
// A call that failed before any answer (provider error, network) releases.

/** The SDK's APIPromise, as far as the wrapper uses it. */
export interface ApiPromiseLike<T = any> extends PromiseLike<T> {
  withResponse(): Promise<WithResponse<T>>;
  asResponse(): Promise<Response>;
}

export type Invoke = (body: Record<string, any>, options: unknown) => ApiPromiseLike;

class Charge {
  #done = false;
  readonly #key = globalThis.crypto.randomUUID();
  readonly #t0 = Date.now();
  constructor(
    private readonly api: TollgateApi,
    private readonly provider: string,
    private readonly model: string,
    private readonly auth: Authorization | undefined,
    readonly promptEstimate: number,
    readonly maxTokens: number | undefined,
  ) {}

  /** Charges the call once: the reported usage, else the estimate rule above. */
  async settle(used: Used | undefined, generatedChars: number): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    const u = used ?? { prompt: this.promptEstimate, completion: tokensOfChars(generatedChars), cached: 0, cacheWrite: 0 };
    const sent = this.api.report({
      model: this.model,
      prompt_tokens: u.prompt,
      completion_tokens: u.completion,
      cached_tokens: Math.min(u.cached, u.prompt),
      cache_write_tokens: Math.min(u.cacheWrite, u.prompt - Math.min(u.cached, u.prompt)),
      ...(this.auth ? { reservation_id: this.auth.reservation_id } : {}),
      idempotency_key: this.#key,
      provider: this.provider,
      latency_ms: Date.now() - this.#t0,
    });
    // Failing open, Tollgate was just unreachable: don't hold the answer back on retries.
    if (this.auth) await sent;
    else sent.catch(() => {});
  }

  async release(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.auth) await this.api.release(this.auth.reservation_id);
  }
}

const isStream = (v: any): boolean => v && typeof v === 'object' && typeof v[Symbol.asyncIterator] === 'function' && 'controller' in v;

/** The SDK's own Stream class (Tollgate does not import the SDK), iterating through the meter. */
function meterStream(stream: any, meter: StreamMeter, charge: Charge): any {
  async function* metered() {
    try {
      for await (const event of stream) if (meter.observe(event)) yield event;
    } finally {
      // Normal end, a break out of the caller's loop, or an error: charge what was generated.
      await charge.settle(meter.reported(), meter.generatedChars());
    }
  }
  const Ctor = stream.constructor as new (iterator: () => AsyncIterator<unknown>, controller: AbortController) => unknown;
  return new Ctor(metered, stream.controller);
}

export function meteredCall(api: TollgateApi, ep: Endpoint, invoke: Invoke, body: Record<string, any>, options: unknown): GatedCall<any> {
  const started = (async () => {
    if (!body || typeof body !== 'object' || typeof body.model !== 'string') {
      // Not ours to judge: let the SDK / provider answer the malformed call, unmetered.
      return { inner: invoke(body, options), charge: undefined, meter: undefined };
    }
    const promptEstimate = tokensOfChars(ep.promptChars(body));
    const maxTokens = ep.maxTokens(body);
    let auth: Authorization | undefined;
    try {
      auth = await api.authorize({ model: body.model, ...(maxTokens ? { max_tokens: maxTokens } : {}), estimated_prompt_tokens: promptEstimate });
    } catch (err) {
      if (!(err instanceof TollgateUnavailableError && api.failOpen)) throw err;
    }
    const model = auth?.model ?? body.model;
    const { body: sent, meter } = ep.prepare(body, model, auth?.max_tokens);
    const charge = new Charge(api, ep.provider, model, auth, promptEstimate, auth?.max_tokens ?? maxTokens);
    let inner: ApiPromiseLike;
    try {
      inner = invoke(sent, options);
    } catch (err) {
      await charge.release();   // the SDK refused the call before sending it
      throw err;
    }
    return { inner, charge, meter };
  })();
  started.catch(() => {});   // surfaced through whichever of then / withResponse / asResponse the caller uses

  const answer = async (): Promise<WithResponse<any>> => {
    const { inner, charge, meter } = await started;
    if (!charge) return inner.withResponse();
    let r: WithResponse<any>;
    try {
      r = await inner.withResponse();
    } catch (err) {
      await charge.release();
      throw err;
    }
    if (meter && isStream(r.data)) return { ...r, data: meterStream(r.data, meter, charge) };
    await charge.settle(ep.usage(r.data), ep.answerChars(r.data));
    return r;
  };

  // The raw Response is the caller's to read: a JSON answer is read from a
  // clone; a stream cannot be followed, so its hold is charged in full.
  let rawTaken = false;
  const raw = async (): Promise<Response> => {
    rawTaken = true;
    const { inner, charge, meter } = await started;
    if (!charge) return inner.asResponse();
    let res: Response;
    try {
      res = await inner.asResponse();
    } catch (err) {
      await charge.release();
      throw err;
    }
    if (!res.ok) await charge.release();
    else if (meter) await charge.settle({ prompt: charge.promptEstimate, completion: charge.maxTokens ?? 0, cached: 0, cacheWrite: 0 }, 0);
    else {
      const json = await res.clone().json().catch(() => undefined);
      await charge.settle(ep.usage(json), ep.answerChars(json));
    }
    return res;
  };

  const call = new GatedCall(answer, raw);
  // The provider is called whether or not the caller awaits: read and charge
  // the answer anyway, unless the caller took the raw Response (asResponse(),
  // always called before the authorization comes back) to read it itself.
  started.then(() => {
    if (!rawTaken) call.withResponse().catch(() => {});
  }, () => {});
  return call;
}
