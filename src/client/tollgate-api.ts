import { BudgetExceededError, TollgateRefusedError, TollgateUnavailableError } from './errors.js';
import { ReportOutbox, type SendOutcome } from './report-outbox.js';

// The monitoring-mode API of a Tollgate server (docs/monitoring-mode.md),
// over the global fetch: nothing here may pull server code into a user's app.

export interface TollgateOptions {
  /** Tollgate's base URL, e.g. `https://tollgate.internal`. */
  url: string;
  /** A client key (or an app key with `customer`). */
  key: string;
  /** With an app key: the customer to act for (`x-tollgate-customer`). */
  customer?: string;
  /** The agent whose budgets apply and whose rows record the calls (`x-tollgate-agent`). */
  agent?: string;
  /** Sent as the tag `session=<value>` on every row. */
  session?: string;
  /** Tags recorded on every row (`x-tollgate-tags`). */
  tags?: Record<string, string>;
  /**
   * When Tollgate cannot be reached or fails (network error, timeout, 5xx):
   * `closed` (default) throws TollgateUnavailableError before the provider is
   * called; `open` calls the provider anyway and reports the usage best effort.
   */
  failMode?: 'closed' | 'open';
  /** Per request to Tollgate, in ms (default 5000). */
  timeoutMs?: number;
  /**
   * Called when a usage report could not be delivered after its retries: it
   * is then kept and sent again in the background (see flushReports()), unless
   * Tollgate refused it as malformed or the queue was full (`dropped`).
   */
  onReportError?: (err: unknown, event: UsageEvent, dropped: boolean) => void;
}

export interface Authorization {
  reservation_id: string;
  expires_at: string;
  /** The model to call: a degrade threshold may have swapped it. */
  model: string;
  degraded_from?: string;
  /** Set when the budget can only pay for fewer output tokens than asked. */
  max_tokens?: number;
}

export interface UsageEvent {
  model: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number;
  cache_write_tokens?: number;
  reservation_id?: string;
  idempotency_key: string;
  provider?: string;
  latency_ms?: number;
}

export interface BudgetStatus {
  unit: string;
  period: string;
  source: string;
  agent: string | null;
  limit: number;
  burst: number;
  used: number;
  reserved: number;
  remaining: number;
  resets_at: string | null;
  thresholds: { at: number; action: string; model?: string; notify: unknown; reached: boolean }[];
}

export interface Status {
  customer: string;
  agent: string | null;
  budgets: BudgetStatus[];
}

const REPORT_ATTEMPTS = 4;

interface Attempt { outcome: SendOutcome; err?: unknown }

/** The first problem with wrap()'s options, named by the option, or undefined. */
export function invalidOption(o: TollgateOptions): string | undefined {
  if (!o || typeof o !== 'object') return 'options: required ({ url, key })';
  if (typeof o.url !== 'string' || !/^https?:\/\/[^/]/.test(o.url)) return `url: an http(s) URL of the Tollgate server (got ${JSON.stringify(o.url)})`;
  if (typeof o.key !== 'string' || o.key.length === 0) return 'key: required (a Tollgate client key, or an app key with `customer`)';
  for (const k of ['customer', 'agent', 'session'] as const) {
    if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) return `${k}: a non-empty string (got ${JSON.stringify(o[k])})`;
  }
  if (o.failMode !== undefined && o.failMode !== 'closed' && o.failMode !== 'open') return `failMode: 'closed' or 'open' (got ${JSON.stringify(o.failMode)})`;
  if (o.timeoutMs !== undefined && !(Number.isFinite(o.timeoutMs) && o.timeoutMs > 0)) return `timeoutMs: a number of milliseconds > 0 (got ${JSON.stringify(o.timeoutMs)})`;
  if (o.tags !== undefined && (typeof o.tags !== 'object' || o.tags === null || Object.values(o.tags).some((v) => typeof v !== 'string'))) return 'tags: an object of string values';
  return undefined;
}

export class TollgateApi {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeout: number;
  readonly #outbox = new ReportOutbox(
    async (event) => (await this.#attempt(event)).outcome,
    (event) => this.options.onReportError?.(new Error('usage report given up: Tollgate refused it, or too many were waiting'), event, true),
  );
  constructor(readonly options: TollgateOptions) {
    const bad = invalidOption(options);
    if (bad) throw new TypeError(`tollgate/client: ${bad}`);
    this.#base = options.url.replace(/\/+$/, '');
    this.#timeout = options.timeoutMs ?? 5000;
    const tags = { ...options.tags, ...(options.session ? { session: options.session } : {}) };
    this.#headers = {
      authorization: `Bearer ${options.key}`,
      'content-type': 'application/json',
      ...(options.customer ? { 'x-tollgate-customer': options.customer } : {}),
      ...(options.agent ? { 'x-tollgate-agent': options.agent } : {}),
      ...(Object.keys(tags).length ? { 'x-tollgate-tags': Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(',') } : {}),
    };
  }

  get failOpen(): boolean {
    return this.options.failMode === 'open';
  }

  /** Reserves the call's estimate; throws a refusal, or TollgateUnavailableError on a fault. */
  async authorize(body: { model: string; max_tokens?: number; estimated_prompt_tokens?: number }): Promise<Authorization> {
    return (await this.#call('POST', '/v1/usage/authorize', body)) as Authorization;
  }

  /**
   * Charges what a call used. Retried with the same idempotency key (Tollgate
   * charges it once); if Tollgate stays unreachable the event goes to the
   * outbox and is sent later. Never throws: the provider's answer is the
   * caller's either way.
   */
  async report(event: UsageEvent): Promise<boolean> {
    let last: Attempt = { outcome: 'retry' };
    for (let attempt = 0; attempt < REPORT_ATTEMPTS; attempt++) {
      last = await this.#attempt(event);
      if (last.outcome === 'sent') return true;
      if (last.outcome === 'drop') break;
      if (attempt < REPORT_ATTEMPTS - 1) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
    if (last.outcome === 'retry') this.#outbox.keep(event);
    this.options.onReportError?.(last.err, event, last.outcome === 'drop');
    return false;
  }

  /** Sends the reports that are waiting; resolves with how many still wait (Tollgate still unreachable). */
  flushReports(): Promise<number> {
    return this.#outbox.flush();
  }

  /** One attempt: sent, to retry (Tollgate unavailable; 409 while a copy is being charged), or to drop (refused as malformed). */
  async #attempt(event: UsageEvent): Promise<Attempt> {
    try {
      await this.#call('POST', '/v1/usage/events', event);
      return { outcome: 'sent' };
    } catch (err) {
      return { outcome: err instanceof TollgateRefusedError && err.status !== 409 ? 'drop' : 'retry', err };
    }
  }

  /** Returns a hold; best effort (an unreleased hold expires by itself). */
  async release(reservationId: string): Promise<void> {
    await this.#call('POST', '/v1/usage/release', { reservation_id: reservationId }).catch(() => {});
  }

  async status(): Promise<Status> {
    return (await this.#call('GET', '/v1/usage/status')) as Status;
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    let r: Response;
    try {
      r = await fetch(this.#base + path, {
        method,
        headers: this.#headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeout),
      });
    } catch (err) {
      throw new TollgateUnavailableError(`Tollgate at ${this.#base} is unreachable: ${(err as Error)?.message ?? err}`, undefined, { cause: err });
    }
    const text = await r.text().catch(() => '');
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (r.ok && json) return json;
    if (r.status >= 500 || !json) throw new TollgateUnavailableError(`Tollgate answered ${r.status} on ${path}: ${json?.error?.message ?? text.slice(0, 200)}`, r.status);
    const error = (json.error ?? {}) as Record<string, any>;
    const message = String(error.message ?? `Tollgate refused (${r.status})`);
    if (r.status === 402 && error.type === 'budget_exceeded') throw new BudgetExceededError(message, error, error.scope);
    const retryAfter = Number(r.headers.get('retry-after')) || undefined;
    throw new TollgateRefusedError(message, r.status, String(error.type ?? 'refused'), error, retryAfter);
  }
}
