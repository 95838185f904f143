import { Redis } from 'ioredis';
import { defineCreditScript, parseCreditReply, type CreditReply } from './credit-script.js';
import { defineLeaseScript, leaseArgs, parseLeaseReply, type LeaseReply, type LeaseRequest } from './lease-script.js';
import { defineWindowScript } from './window-script.js';
import { defineIdempotencyScript } from './idempotency-script.js';
import { defineAlertScript } from './alert-claims.js';

export type Pipeline = ReturnType<Redis['pipeline']>;

interface Op { add: (p: Pipeline) => void; resolve: (raw: unknown) => void; reject: (e: Error) => void }

/**
 * The main thread's one connection to Redis. Everything asked of it in one
 * event turn goes out as one pipeline — one round trip — however many
 * budgets it touches. Commands never queue while Redis is away
 * (enableOfflineQueue off): they fail at once, and the lease manager falls
 * back on what it holds. Nothing is resent blindly after a reconnect; the
 * manager re-sends its (absolute, idempotent) state instead.
 */
export class RedisLink {
  readonly #redis: Redis;
  #sub: Redis | undefined;
  #pending: Op[] = [];
  #writes: ((p: Pipeline) => void)[] = [];
  #scheduled = false;
  #up = false;
  #closing = false;
  downSince: number | null = Date.now();
  lastError: string | null = null;
  roundTrips = 0;
  errors = 0;
  /** Called when the connection comes (back) up. */
  onUp: () => void = () => {};
  onDown: () => void = () => {};
  readonly #upListeners: (() => void)[] = [];

  constructor(url: string, timeoutMs: number, private readonly log: (m: string) => void) {
    this.#redis = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      connectTimeout: Math.max(timeoutMs, 1000),
      retryStrategy: (times) => Math.min(100 * times, 1000),
    });
    defineLeaseScript(this.#redis);
    defineCreditScript(this.#redis);
    defineWindowScript(this.#redis);
    defineIdempotencyScript(this.#redis);
    defineAlertScript(this.#redis);
    this.#redis.on('ready', () => {
      if (this.#up) return;
      this.#up = true;
      const was = this.downSince;
      this.downSince = null;
      this.log(`cluster: redis ${redact(url)} is reachable${was ? ` after ${Date.now() - was} ms` : ''}`);
      this.onUp();
      for (const f of this.#upListeners) f();
    });
    this.#redis.on('close', () => this.#down('connection closed'));
    this.#redis.on('error', (err: Error) => {
      this.lastError = err.message;
    });
  }

  /** Besides onUp (the lease manager's): the other cluster pieces reconcile when Redis returns. */
  whenUp(f: () => void): void {
    this.#upListeners.push(f);
  }

  get up(): boolean {
    return this.#up;
  }

  /** Connects, waiting at most `waitMs`; keeps retrying in the background after that. */
  async connect(waitMs: number): Promise<boolean> {
    const attempt = this.#redis.connect().catch((err: Error) => {
      this.lastError = err.message;
    });
    await Promise.race([attempt, new Promise((r) => setTimeout(r, waitMs).unref())]);
    return this.#up;
  }

  /**
   * Listens on a pub/sub channel (a second connection, as Redis requires);
   * resubscribes by itself after a reconnect.
   */
  listen(channel: string, onMessage: (message: string) => void): void {
    const sub = (this.#sub ??= this.#redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined }));
    sub.on('message', (ch: string, message: string) => {
      if (ch === channel) onMessage(message);
    });
    sub.on('error', () => {}); // the main connection reports the state
    void sub.subscribe(channel).catch((err: Error) => this.log(`cluster: cannot subscribe to ${channel}: ${err.message}`));
  }

  /** One lease step on one budget; batched with everything else asked this turn. */
  lease(key: string, req: LeaseRequest): Promise<LeaseReply> {
    return this.command((p) => p.tgLease(key, ...leaseArgs(req)), parseLeaseReply);
  }

  /**
   * Any one command (`add` appends exactly one to the pipeline), batched with
   * everything else asked this turn; resolves with its reply through `parse`.
   * Rejects at once while Redis is unreachable.
   */
  command<T>(add: (p: Pipeline) => void, parse: (raw: unknown) => T = (raw) => raw as T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({
        add,
        resolve: (raw) => {
          try {
            resolve(parse(raw));
          } catch (e) {
            reject(e as Error);
          }
        },
        reject,
      });
      this.#schedule();
    });
  }

  /** A wallet top-up (credit-script.ts): sent at once, not batched — an admin write, not a call's path. */
  async credit(budgetKey: string, creditsKey: string, idempotencyKey: string, transactionId: string, amountNano: bigint): Promise<CreditReply> {
    if (!this.#up) throw new Error(`redis unreachable${this.lastError ? `: ${this.lastError}` : ''}`);
    return parseCreditReply(await this.#redis.tgCredit(budgetKey, creditsKey, idempotencyKey, transactionId, String(amountNano)));
  }

  /**
   * Whether Redis still knows one top-up (after a restart without persistence
   * it does not). Asked per idempotency key, not per wallet: another node may
   * already have re-sent some of the wallet's top-ups, but not this one.
   */
  async knows(creditsKey: string, idempotencyKey: string): Promise<boolean> {
    if (!this.#up) throw new Error(`redis unreachable${this.lastError ? `: ${this.lastError}` : ''}`);
    return (await this.#redis.hexists(creditsKey, idempotencyKey)) === 1;
  }

  /** A fire-and-forget write (usage counters) riding along with the next batch. */
  write(add: (p: Pipeline) => void): void {
    this.#writes.push(add);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    this.#scheduled = false;
    const ops = this.#pending;
    const writes = this.#writes;
    this.#pending = [];
    this.#writes = [];
    if (!ops.length && !writes.length) return;
    const fail = (err: Error) => {
      this.errors++;
      this.lastError = err.message;
      for (const op of ops) op.reject(err);
    };
    if (!this.#up) return fail(new Error(`redis unreachable${this.lastError ? `: ${this.lastError}` : ''}`));
    const p = this.#redis.pipeline();
    for (const op of ops) op.add(p);
    for (const w of writes) w(p);
    this.roundTrips++;
    let results: [Error | null, unknown][] | null;
    try {
      results = await p.exec();
    } catch (err) {
      return fail(err as Error);
    }
    ops.forEach((op, i) => {
      const [err, raw] = results?.[i] ?? [new Error('no reply'), null];
      if (err) {
        this.errors++;
        this.lastError = err.message;
        op.reject(err);
        return;
      }
      op.resolve(raw);
    });
  }

  #down(why: string): void {
    if (!this.#up) return;
    this.#up = false;
    this.downSince = Date.now();
    if (!this.#closing) this.log(`cluster: redis unreachable (${this.lastError ?? why}); deciding within held leases`);
    this.onDown();
  }

  async quit(): Promise<void> {
    this.#closing = true;
    this.#sub?.disconnect();
    try {
      if (this.#up) await this.#redis.quit();
      else this.#redis.disconnect();
    } catch {
      this.#redis.disconnect();
    }
  }
}

/**
 * What the lease manager needs of its Redis connection: RedisLink, or in unit
 * tests a stand-in that answers lease steps without a Redis server.
 */
export type LeaseLink = Pick<RedisLink, 'up' | 'lease' | 'credit' | 'knows' | 'write' | 'listen' | 'connect' | 'quit' | 'onUp' | 'downSince' | 'lastError' | 'roundTrips' | 'errors'>;

/** The URL without its password, for logs and /admin/cluster. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'redis://?';
  }
}
