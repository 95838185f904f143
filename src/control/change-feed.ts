import { Redis } from 'ioredis';
import type { ControlChange } from './control-records.js';

// The control plane across nodes sharing one Redis. Redis holds the total
// order: a write appends its change to the log (a sorted set scored by
// version) and takes the next global version in one script, then
// publishes the version. Every node — the writer included — applies the
// log in version order from the last version it applied, so all nodes pass
// through the same states. Pub/sub only says "look now": a node also polls
// the version every `pollMs`, and reads the log from its own version on
// start and after an outage, so a missed message costs at most a poll, and
// a restart nothing (catch-up is by version, not by luck).
//
// Keys: <prefix>control:version (counter), <prefix>control:log (zset:
// score = version, member = "<version>:<json>"), channel <prefix>control:changes.

const APPEND = `
local v = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], v, v .. ':' .. ARGV[1])
local n = redis.call('ZCARD', KEYS[2])
if n > tonumber(ARGV[2]) then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - tonumber(ARGV[2]) - 1) end
redis.call('PUBLISH', KEYS[3], v)
return v`;

/** Changes the log keeps; a node further behind than this cannot catch up from it (it logs so). */
export const LOG_KEEP = 1_000_000;
/** Log entries read per round trip while catching up. */
export const PAGE = 2_000;

export class ChangeFeed {
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #keys: { version: string; log: string; channel: string };
  #timer: NodeJS.Timeout | undefined;

  constructor(url: string, prefix: string, timeoutMs: number, private readonly log: (m: string) => void) {
    const opts = { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: timeoutMs, connectTimeout: Math.max(timeoutMs, 1000), retryStrategy: (n: number) => Math.min(100 * n, 1000) };
    this.#redis = new Redis(url, opts);
    this.#sub = new Redis(url, { ...opts, commandTimeout: undefined });
    for (const r of [this.#redis, this.#sub]) r.on('error', () => {}); // reconnects by itself; failures surface on the commands
    this.#keys = { version: `${prefix}control:version`, log: `${prefix}control:log`, channel: `${prefix}control:changes` };
    this.#redis.defineCommand('controlAppend', { numberOfKeys: 3, lua: APPEND });
  }

  /** Connects (bounded wait) and calls `onNews` on every published version, every `pollMs`, and after each reconnect. */
  async start(onNews: () => void, pollMs: number, waitMs: number): Promise<void> {
    await Promise.race([Promise.allSettled([this.#redis.connect(), this.#sub.connect()]), new Promise((r) => setTimeout(r, waitMs).unref())]);
    this.#sub.on('message', () => onNews());
    this.#sub.on('ready', () => void this.#sub.subscribe(this.#keys.channel).catch(() => {}));
    if (this.#sub.status === 'ready') await this.#sub.subscribe(this.#keys.channel).catch(() => {});
    this.#redis.on('ready', onNews);
    this.#timer = setInterval(onNews, pollMs);
    this.#timer.unref();
  }

  /** Appends a change's deltas and audit entries; resolves with the version it got. */
  async append(change: Omit<ControlChange, 'version'>): Promise<number> {
    const r = await (this.#redis as unknown as { controlAppend(...a: unknown[]): Promise<number> })
      .controlAppend(this.#keys.version, this.#keys.log, this.#keys.channel, JSON.stringify(change), LOG_KEEP);
    return Number(r);
  }

  /** Moves the version counter up to `v` if it is below (Redis came back empty; versions must not repeat). */
  async raise(v: number): Promise<void> {
    await this.#redis.eval("if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 1", 1, this.#keys.version, v);
    this.log(`warn: control plane: redis had no change log; its version counter restarts from this node's version ${v}`);
  }

  /** The newest version in Redis. */
  async version(): Promise<number> {
    return Number((await this.#redis.get(this.#keys.version)) ?? 0);
  }

  /** Changes after `after`, oldest first, at most PAGE; `oldest`: the first version the log still holds. */
  async since(after: number): Promise<{ changes: ControlChange[]; oldest: number | null }> {
    const [raw, first] = await Promise.all([
      this.#redis.zrangebyscore(this.#keys.log, `(${after}`, '+inf', 'LIMIT', 0, PAGE),
      this.#redis.zrange(this.#keys.log, 0, 0, 'WITHSCORES'),
    ]);
    const changes = raw.map((m) => {
      const colon = m.indexOf(':');
      return { version: Number(m.slice(0, colon)), ...(JSON.parse(m.slice(colon + 1)) as Omit<ControlChange, 'version'>) };
    });
    return { changes, oldest: first.length ? Number(first[1]) : null };
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.allSettled([this.#redis.quit(), this.#sub.quit()]);
    this.log('info: control plane: change feed closed');
  }
}
