import { LedgerUnavailableError } from '../store/ledger.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import type { Exchange } from '../http/exchange.js';
import { readIdentityHeaders } from '../identity/header-values.js';
import { errorBody, errorStatus, type ErrorType } from '../http/errors.js';
import { BodyTooLarge, readBody } from '../http/read-body.js';
import { checkRequestHead } from '../http/request-limits.js';
import type { Caller } from '../identity/key-directory.js';
import type { ShardContext } from '../proxy/shard-context.js';
import type { Answer } from './answer.js';
import { AUTHORIZE_PATH, authorize } from './authorize.js';
import { MonitorBook } from './monitor-book.js';
import { reservationShard } from './reservation-id.js';
import { ShardLink, ShardLinkTimeout } from './shard-link.js';
import { parseAuthorize, parseEvent, parseRelease, type EventBody, type ReleaseBody } from './usage-bodies.js';
import { EVENTS_PATH, UsageEvents } from './usage-event.js';
import { STATUS_PATH, usageStatus } from './usage-status.js';

// Monitoring mode (docs/interface.md): apps that call the model themselves ask
// Tollgate first (/authorize), report what the call used (/events) or that
// it never happened (/release). Client keys authenticate as for proxied
// calls; the same budgets, velocity caps, pricing, ledger and threshold
// alerts apply, because the same shared counters and functions are used.
//
// Where each call runs: /authorize on the shard that received it (the hold
// goes into its book; the reservation id names that shard). /events and
// /release run on the owning shard — reached over the shard link when the
// connection landed elsewhere — and an event without a reservation runs on
// the shard its (customer, idempotency key) hashes to, so concurrent
// retries of one event always meet on one shard and are charged once.

export const RELEASE_PATH = '/v1/usage/release';
const MAX_BODY = 64 * 1024;

type Op =
  | { op: 'event'; caller: Caller; body: EventBody; now: number }
  | { op: 'release'; caller: Caller; body: ReleaseBody; now: number };

export interface MonitoringDeps {
  ctx: ShardContext;
  exchange: (res: HttpResponse) => Exchange;
  shards: number;
  /** Names the shard link, so two servers in one process never cross. */
  linkName: string;
}

export interface Monitoring {
  readonly book: MonitorBook;
  close(): void;
}

export function mountMonitoring(app: TemplatedApp, { ctx, exchange, shards, linkName }: MonitoringDeps): Monitoring {
  const book = new MonitorBook(ctx.table, ctx.shard, ctx.config.monitoring.reservationTtl, ctx.policyTables.windows);
  const events = new UsageEvents(ctx, book);
  const run = async (op: Op): Promise<Answer> => (op.op === 'event' ? events.record(op.caller, op.body, op.now) : events.release(op.caller, op.body, op.now));
  const link = new ShardLink(linkName, ctx.shard, (op) => run(op as Op));
  const sweeper = setInterval(() => book.sweep(Date.now()), 1000);
  sweeper.unref();

  /** Runs an event or release where it belongs. */
  const dispatch = (home: number, op: Op): Promise<Answer> => (home === ctx.shard || home >= shards ? run(op) : link.call(home, op));

  /**
   * The request head's limits, then the caller's headers copied (uWS invalidates `req` at the
   * first await); undefined when the head was refused (answered here).
   */
  const callerHead = (ex: Exchange, req: HttpRequest) => {
    const breach = checkRequestHead(req, ctx.config.limits);
    if (breach) {
      ex.closeConnection = true;
      ex.fail('openai', breach.type, breach.message);
      return undefined;
    }
    return readIdentityHeaders(req);
  };

  const route = <B>(path: string, parse: (raw: Buffer) => B | string, handle: (caller: Caller, body: B, now: number) => Promise<Answer>) => {
    app.post(path, (res, req) => {
      const ex = exchange(res);
      const h = callerHead(ex, req);
      if (!h) return;
      const body = readBody(res, MAX_BODY, Number(req.getHeader('content-length') || 0), ctx.config.limits.bodyTimeout);
      body.catch(() => {});
      if (ctx.draining) {
        ex.fail('openai', 'overloaded_error', 'the proxy is shutting down; retry on another instance', undefined, { 'retry-after': '1' });
        return;
      }
      if (!ctx.ledger.accepting) {
        ex.fail('openai', 'ledger_unavailable', 'this proxy cannot record usage right now (its ledger disk is full or failing); nothing was reserved or charged, retry later', undefined, { 'retry-after': '5' });
        return;
      }
      const send = (a: Answer) => {
        ctx.metrics.count(path, a.status, a.status === 200 ? 'allowed' : 'refused');
        ex.json(a.status, a.body, a.headers);
      };
      const fail = (type: ErrorType, message: string) => send({ status: errorStatus(type), body: errorBody('openai', type, message) });
      ctx.inFlight++;
      void (async () => {
        const who = ctx.keys.identify(h);
        if (!who.ok) return fail(who.type, who.message);
        let raw: Buffer;
        try {
          raw = await body;
        } catch (err) {
          if (err instanceof BodyTooLarge) return fail('request_too_large', `request body is larger than the ${MAX_BODY}-byte limit`);
          throw err;
        }
        if (ex.aborted) return;
        const parsed = parse(raw);
        if (typeof parsed === 'string') return fail('invalid_request_error', parsed);
        send(await handle(who.caller, parsed, Date.now()));
      })().catch((err) => {
        if (err instanceof ShardLinkTimeout) return fail('overloaded_error', `${err.message}; retry with the same idempotency_key, it is never charged twice`);
        if (err instanceof LedgerUnavailableError) return fail('ledger_unavailable', `${err.message}; retry with the same idempotency_key, it is never charged twice`);
        ctx.log('error', 'monitoring call failed', { path, error: String((err as Error)?.stack ?? err) });
        fail('internal_error', 'internal error in the proxy');
      }).finally(() => {
        ctx.inFlight--;
        ctx.callFinished();
      });
    });
  };

  route(AUTHORIZE_PATH, parseAuthorize, (caller, body, now) => authorize(ctx, book, caller, body, now));
  route(EVENTS_PATH, parseEvent, (caller, body, now) => {
    const home = body.reservation_id ? reservationShard(body.reservation_id)! : hash(`${caller.customer}\u0000${body.idempotency_key}`) % shards;
    return dispatch(home, { op: 'event', caller, body, now });
  });
  app.get(STATUS_PATH, (res, req) => {
    const ex = exchange(res);
    const h = callerHead(ex, req);
    if (!h) return;
    const who = ctx.keys.identify(h);
    if (!who.ok) {
      ex.fail('openai', who.type, who.message);
      return;
    }
    usageStatus(ctx, who.caller, Date.now()).then((a) => ex.json(a.status, a.body, a.headers), (err) => {
      ctx.log('error', 'usage status failed', { error: String((err as Error)?.stack ?? err) });
      ex.fail('openai', 'internal_error', 'internal error in the proxy');
    });
  });
  route(RELEASE_PATH, parseRelease, (caller, body, now) => dispatch(reservationShard(body.reservation_id)!, { op: 'release', caller, body, now }));

  return {
    book,
    close() {
      clearInterval(sweeper);
      link.close();
    },
  };
}

/** FNV-1a: a stable spread of idempotency keys over shards. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
