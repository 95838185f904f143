import type { UsageQuery } from '../ledger.js';
import type { UsageRecord } from '../usage-record.js';
import type { ShipKey } from './ship-cursor.js';

// Ships this node's usage rows to the cluster ledger, behind the local
// ledger: the LMDB commit stays the durability point, and shipping reads
// committed rows in the ledger's key order (ts, request_id) from a durable
// cursor, in batches, on the main thread (one shipper per node).
//
// A row's ts is when its call started, and the call commits when it ends —
// a long stream commits minutes after rows with later ts have been shipped.
// So besides following the key order ("forward"), the shipper sweeps the
// last `lookbackMs` of ts behind its cursor every `sweepMs` for rows it has
// not shipped ("late" rows), remembering the ids it shipped in that window.
// The count of keys in the window is compared with the ids remembered
// first: the walk happens only when some row is missing. After a restart
// (or a reconnect) the memory is refilled from the database: the ids this
// node shipped in the window. A row sent twice anyway (a batch whose COMMIT
// answer was lost) is skipped by the database (ON CONFLICT DO NOTHING) and
// counted once.
//
// Failures (database down, statement error) back off exponentially up to
// maxBackoffMs and retry the same rows: nothing is lost, nothing doubles,
// and shipping catches up by itself. Admission never waits on it.

export interface ShipSource {
  keys(q: UsageQuery, limit: number): ShipKey[];
  get(ts: number, requestId: string): UsageRecord | undefined;
  countRows(q: UsageQuery): number;
}

export interface ShipSink {
  /** Connects, migrates, and answers the database's ledger id. */
  ready(): Promise<string>;
  ship(rows: readonly UsageRecord[]): Promise<{ inserted: number }>;
  /** Ids (with their ts) of the rows this node shipped with from <= ts < to. */
  shippedIds(from: number, to: number): Promise<Map<string, number>>;
}

export interface CursorStore {
  get(ledgerId: string): ShipKey | null;
  set(ledgerId: string, key: ShipKey): void;
}

export interface ShipperOptions {
  batchRows: number;
  /** Pause between polls once caught up (ms). */
  intervalMs: number;
  /** How far behind the cursor (in row ts) late rows are looked for (ms). */
  lookbackMs: number;
  sweepMs: number;
  maxBackoffMs: number;
  now?: () => number;
  log?: (level: 'error' | 'warn' | 'info', msg: string) => void;
}

export interface ShipStats {
  /** Rows this node inserted into the cluster ledger (since start). */
  shipped: number;
  /** Rows sent that the database already had (re-sent after a restart or an unknown outcome). */
  duplicates: number;
  batches: number;
  errors: number;
  /** Local rows after the cursor, not yet shipped (refreshed at most once a second). */
  lagRows: number;
  /** Whether the last attempt reached the database. */
  connected: boolean;
  lastError: string | null;
  /** When the shipper was last caught up (ms), or 0. */
  caughtUpAt: number;
}

export class LedgerShipper {
  readonly #source: ShipSource;
  readonly #sink: ShipSink;
  readonly #cursor: CursorStore;
  readonly #o: ShipperOptions;
  readonly #now: () => number;
  #ledgerId: string | undefined;
  #tail: ShipKey | null = null;
  /** Ids shipped with ts inside the sweep window, with their ts. */
  readonly #recent = new Map<string, number>();
  #lastSweep = 0;
  #lagAt = 0;
  #backoff = 0;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly stats: ShipStats = { shipped: 0, duplicates: 0, batches: 0, errors: 0, lagRows: 0, connected: false, lastError: null, caughtUpAt: 0 };

  constructor(source: ShipSource, sink: ShipSink, cursor: CursorStore, options: ShipperOptions) {
    this.#source = source;
    this.#sink = sink;
    this.#cursor = cursor;
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop, then ships for at most `drainMs` more if the database is reachable (a clean shutdown ships what it can). */
  async stop(drainMs = 0): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    if (!(drainMs > 0 && this.stats.connected)) return;
    const until = this.#now() + drainMs;
    try {
      while (this.#now() < until && (await this.step()) === 'more');
    } catch {
      // Shipping resumes from the cursor at the next start.
    }
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let wait = this.#o.intervalMs;
      try {
        if ((await this.step()) === 'more') wait = 0;
      } catch {
        wait = this.#backoff;
      }
      if (!this.#stopped && wait > 0) await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        t.unref?.();
        this.#wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  /** One batch (forward, else late rows), or nothing: 'more' when another batch is waiting. Throws after recording a failure. */
  async step(): Promise<'more' | 'idle'> {
    try {
      const r = await this.#step();
      this.#backoff = 0;
      this.stats.connected = true;
      return r;
    } catch (err) {
      this.stats.errors++;
      this.stats.connected = false;
      const msg = String((err as Error)?.message ?? err).slice(0, 300);
      if (msg !== this.stats.lastError || this.#backoff >= this.#o.maxBackoffMs) this.#o.log?.('warn', `cluster ledger: shipping failed, retrying in ${this.#backoff || 200} ms: ${msg}`);
      this.stats.lastError = msg;
      this.#backoff = Math.min(this.#o.maxBackoffMs, this.#backoff ? this.#backoff * 2 : 200);
      throw err;
    }
  }

  async #step(): Promise<'more' | 'idle'> {
    if (this.#ledgerId === undefined) {
      const id = await this.#sink.ready();
      const tail = this.#cursor.get(id);
      if (tail) {
        this.#recent.clear();
        for (const [rid, ts] of await this.#sink.shippedIds(tail[0] - this.#o.lookbackMs, tail[0] + 1)) this.#recent.set(rid, ts);
      }
      this.#ledgerId = id;
      this.#tail = tail;
      this.#lastSweep = -Infinity; // sweep the window at once: rows committed late before a restart
      if (this.stats.lastError) this.#o.log?.('info', 'cluster ledger: connected; shipping resumes');
    }
    const forward = this.#source.keys({ cursor: this.#tail ?? undefined }, this.#o.batchRows);
    if (forward.length) {
      await this.#ship(forward);
      this.#tail = forward[forward.length - 1]!;
      this.#cursor.set(this.#ledgerId, this.#tail);
      if (forward.length === this.#o.batchRows) {
        this.#measureLag(this.#now());
        return 'more';
      }
    }
    const now = this.#now();
    if (this.#tail && now - this.#lastSweep >= this.#o.sweepMs) {
      const late = this.#lateKeys();
      if (late.length) {
        await this.#ship(late);
        if (late.length === this.#o.batchRows) return 'more';
      }
      this.#lastSweep = now;
    }
    this.#measureLag(now, true);
    if (!this.stats.lagRows) this.stats.caughtUpAt = now;
    return 'idle';
  }

  /** Rows after the cursor: a key count, which grows with the lag, so at most once a second while behind (`caughtUp`: it is small). */
  #measureLag(now: number, caughtUp = false): void {
    if (!caughtUp && now - this.#lagAt < 1_000) return;
    this.#lagAt = now;
    this.stats.lagRows = this.#tail ? this.#source.countRows({ from: this.#tail[0] + 1 }) : this.#source.countRows({});
  }

  /** Keys in the sweep window not yet shipped (at most a batch). */
  #lateKeys(): ShipKey[] {
    const tail = this.#tail!;
    const from = tail[0] - this.#o.lookbackMs;
    for (const [id, ts] of this.#recent) if (ts < from) this.#recent.delete(id);
    // Every key in the window was shipped by this process: nothing to walk.
    if (this.#source.countRows({ from, to: tail[0] + 1 }) <= this.#recent.size) return [];
    const late: ShipKey[] = [];
    let after: ShipKey | undefined;
    for (;;) {
      const keys = this.#source.keys(after ? { cursor: after, to: tail[0] + 1 } : { from, to: tail[0] + 1 }, 10_000);
      for (const k of keys) {
        if (k[0] === tail[0] && k[1] > tail[1]) continue; // after the cursor: the forward pass ships it
        if (!this.#recent.has(k[1])) late.push(k);
        if (late.length === this.#o.batchRows) return late;
      }
      if (keys.length < 10_000) return late;
      after = keys[keys.length - 1];
    }
  }

  async #ship(keys: ShipKey[]): Promise<void> {
    const rows: UsageRecord[] = [];
    for (const [ts, id] of keys) {
      const row = this.#source.get(ts, id);
      if (row) rows.push(row); // gone: deleted by retention since its key was read
    }
    const { inserted } = await this.#sink.ship(rows);
    this.stats.batches++;
    this.stats.shipped += inserted;
    this.stats.duplicates += rows.length - inserted;
    const from = (this.#tail?.[0] ?? keys[keys.length - 1]![0]) - this.#o.lookbackMs;
    for (const [ts, id] of keys) if (ts >= from) this.#recent.set(id, ts);
  }
}
