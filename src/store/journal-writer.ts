import type { Journal } from './journal.js';
import { commitErrorCause, type Ledger } from './ledger.js';
import type { LedgerHealth } from './ledger-health.js';
import type { LedgerProgress } from './ledger-progress.js';
import { decodeRows } from './row-codec.js';
import type { UsageRecord } from './usage-record.js';

// The one writer of usage rows in a process. Batches of binary rows arrive
// from every shard; all batches that arrived while the previous group was
// being written form the next group: one journal append + fdatasync for all
// of them (group commit), after which each batch's sender is told its rows
// are durable. Groups are then written behind into LMDB (rows, index,
// aggregates, report indexes) in one transaction per write-behind round,
// however many groups piled up since the previous one.
//
// Write-behind rounds (writeBehindMs): every LMDB commit has a fixed cost
// however few rows it holds — the aggregate and report-index entries it
// reads and rewrites, the transaction itself, and LMDB's own fsync of it on
// lmdb-js's write thread (ledger.sync) — so the writer thread commits into
// LMDB at most every writeBehindMs rather than after every journal group.
// Nothing durable waits for it (the journal is the durability point); a
// reader that needs LMDB to hold what is durable (read-your-writes, see
// ledger-progress.ts) raises `wanted`, and the round starts at once.
//
// Failures: a group the journal cannot take (disk full, I/O error) is held
// in memory and retried every RETRY_EVERY_MS (its senders keep waiting, their
// own deadline decides what their clients get); a write-behind that fails is
// retried the same way from memory (its rows are already durable in the
// journal). Either way the health cell of this thread counts the rows, and
// admission stops until they are written.

const RETRY_EVERY_MS = 500;
/** Rows held for the write-behind past which a round starts at once, whatever writeBehindMs says. */
const MAX_BEHIND_ROWS = 4096;

interface Submission {
  batch: Buffer;
  rows: number;
  durable: () => void;
  applied?: () => void;
}

interface Group {
  seq: number;
  subs: Submission[];
}

export interface JournalWriterOptions {
  progress?: LedgerProgress;
  health?: LedgerHealth;
  log?: (level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Least time between write-behind rounds (ms). 0 (the default): a round
   * starts as soon as the previous one ends — what a ledger writing its own
   * journal needs, its appends resolve when LMDB has their rows. With
   * `progress`, readers waiting for LMDB cut the wait short.
   */
  writeBehindMs?: number;
  /**
   * Every submitted row is new: made by a call after recover() (a request id
   * of its own, 80 random bits), so none can be in LMDB before the first
   * write-behind that holds it, which then skips LMDB's per-row existence
   * lookup. A write-behind retried after a failure (its commit may have gone
   * through) and the replay in recover() still look. The writer thread sets
   * it; a ledger writing its own journal does not (`tollgate ledger replay`
   * re-enters logged rows, which the journal it replays may also hold).
   */
  newRows?: boolean;
}

export class JournalWriter {
  #queue: Submission[] = [];
  #queuedRows = 0;
  #scheduled = false;
  #seq = 0;
  #journalFailing = false;
  #behind: Group[] = [];
  #behindRows = 0;
  #applying: Promise<void> | undefined;
  #applyFailing = false;
  /** Cancels the scheduled write-behind round. */
  #applyTimer: (() => void) | undefined;
  #lastApply = -Infinity;
  #retryTimer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Groups wait for recover(): the journal must be replayed and emptied before anything is appended to it. */
  #recovered = false;
  /** Rows given up on (logged as `ledger_unwritten_row`): still not in the journal at close. */
  unwritten = 0;

  constructor(private readonly ledger: Ledger, private readonly journal: Journal, private readonly options: JournalWriterOptions = {}) {}

  /** Replays what the journal holds into LMDB (rows already there are skipped) and empties it. Returns rows replayed. */
  async recover(): Promise<number> {
    const groups = this.journal.recover();
    let written = 0;
    if (groups.length) {
      const rows = groups.flatMap((g) => decodeRows(g.payload));
      written = await this.ledger.commitRows(rows);
      await this.ledger.flushed();
      this.#log('info', 'ledger journal replayed into LMDB', { groups: groups.length, rows: rows.length, written });
    }
    this.journal.reset();
    this.#recovered = true;
    this.#schedule();
    if (this.options.progress && this.options.writeBehindMs) void this.#watchReaders(this.options.progress);
    return written;
  }

  /**
   * Queues a batch for the next group. `durable` runs once the group holding
   * it is in the journal (synced); `applied`, once LMDB has its rows.
   */
  submit(batch: Buffer, rows: number, durable: () => void, applied?: () => void): void {
    if (this.#closed) throw new Error('the ledger writer is closed');
    this.#queue.push({ batch, rows, durable, applied });
    this.#queuedRows += rows;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled || this.#journalFailing || !this.#recovered || !this.#queue.length) return;
    this.#scheduled = true;
    setImmediate(() => this.#group());
  }

  #group(): void {
    this.#scheduled = false;
    if (!this.#queue.length) return;
    const subs = this.#queue;
    const rows = this.#queuedRows;
    const seq = this.#seq + 1;
    const started = performance.now();
    try {
      this.journal.append(seq, subs.map((s) => s.batch), rows);
    } catch (err) {
      if (!this.#journalFailing) this.#log('error', 'ledger journal write failed: holding the rows in memory and retrying; new calls are refused until a write succeeds', { error: describe(err), rows });
      this.#journalFailing = true;
      this.#updateHealth();
      this.#startRetry();
      return;
    }
    if (this.#journalFailing) this.#log('info', 'ledger journal writes succeed again: held rows written', { rows });
    this.#journalFailing = false;
    this.#seq = seq;
    this.#queue = [];
    this.#queuedRows = 0;
    const p = this.options.progress;
    if (p) {
      p.markDurable(seq);
      p.add('journalCommits', 1);
      p.add('journalRows', rows);
      p.add('journalSyncMicros', (performance.now() - started) * 1000);
    }
    for (const s of subs) s.durable();
    this.#behind.push({ seq, subs });
    this.#behindRows += rows;
    this.#updateHealth();
    this.#scheduleApply();
  }

  /**
   * The next write-behind round: after this turn (the acknowledgements go out
   * first, the decoding and LMDB work after), and no sooner than
   * writeBehindMs after the last round began unless a reader waits for it or
   * many rows are held.
   */
  #scheduleApply(): void {
    if (this.#applyTimer || this.#applyFailing || this.#closed || !this.#behind.length) return;
    const p = this.options.progress;
    const now = performance.now();
    const hurry = this.#behindRows >= MAX_BEHIND_ROWS || (p !== undefined && p.wanted > p.applied);
    const wait = hurry ? 0 : Math.max(0, this.#lastApply + (this.options.writeBehindMs ?? 0) - now);
    const run = () => {
      this.#applyTimer = undefined;
      void this.#applyBehind();
    };
    if (wait <= 0) {
      const t = setImmediate(run);
      this.#applyTimer = () => clearImmediate(t);
    } else {
      const t = setTimeout(run, wait);
      this.#applyTimer = () => clearTimeout(t);
    }
  }

  #cancelApply(): void {
    this.#applyTimer?.();
    this.#applyTimer = undefined;
  }

  /** A reader waits for LMDB to hold what is durable: the round starts now rather than at its time. */
  async #watchReaders(p: LedgerProgress): Promise<void> {
    let seen = p.wanted;
    while (!this.#closed) {
      await p.wantedAbove(seen);
      seen = p.wanted;
      if (this.#closed || seen <= p.applied) continue;
      this.#cancelApply();
      this.#scheduleApply();
    }
  }

  /** Writes every group not yet in LMDB in one transaction; more groups that arrive meanwhile go in the next. */
  #applyBehind(): Promise<void> {
    if (this.#applying || !this.#behind.length) return this.#applying ?? Promise.resolve();
    const groups = this.#behind;
    const rowCount = this.#behindRows;
    this.#behind = [];
    this.#behindRows = 0;
    this.#lastApply = performance.now();
    // After a failed round, its groups come back: its commit may have written them.
    const maybePresent = !this.options.newRows || this.#applyFailing;
    this.#applying = (async () => {
      const started = performance.now();
      try {
        const rows: UsageRecord[] = [];
        for (const g of groups) for (const s of g.subs) rows.push(...decodeRows(s.batch));
        await this.ledger.commitRows(rows, maybePresent);
      } catch (err) {
        commitErrorCause(err, this.#applyFailing ? undefined : (cause) => this.#log('error', 'ledger commit failure cause', { error: describe(cause) }));
        if (!this.#applyFailing) this.#log('error', 'ledger write-behind into LMDB failed: the rows are safe in the journal; retrying, and new calls are refused until it succeeds', { error: describe(err), rows: rowCount });
        this.#applyFailing = true;
        this.#behind = groups.concat(this.#behind);
        this.#behindRows += rowCount;
        this.#updateHealth();
        this.#startRetry();
        return;
      } finally {
        this.#applying = undefined;
      }
      if (this.#applyFailing) this.#log('info', 'ledger write-behind into LMDB succeeds again', { rows: rowCount });
      this.#applyFailing = false;
      const last = groups[groups.length - 1]!.seq;
      const p = this.options.progress;
      if (p) {
        p.markApplied(last);
        p.add('lmdbCommits', 1);
        p.add('lmdbRows', rowCount);
        p.add('lmdbCommitMicros', (performance.now() - started) * 1000);
      }
      for (const g of groups) for (const s of g.subs) s.applied?.();
      this.#updateHealth();
      void this.#releaseSegments(last);
      if (!this.options.writeBehindMs && this.#behind.length) await this.#applyBehind();
      else this.#scheduleApply();
    })();
    return this.#applying;
  }

  /** Journal segments LMDB has durably (after its own sync) are deleted. */
  async #releaseSegments(applied: number): Promise<void> {
    try {
      await this.ledger.flushed();
      this.journal.release(applied);
    } catch (err) {
      this.#log('warn', 'could not delete a ledger journal segment already in LMDB', { error: describe(err) });
    }
  }

  #startRetry(): void {
    this.#retryTimer ??= setInterval(() => {
      if (this.#journalFailing && this.#queue.length) this.#group();
      if (this.#applyFailing) void this.#applyBehind();
      if (!this.#journalFailing && !this.#applyFailing) {
        clearInterval(this.#retryTimer);
        this.#retryTimer = undefined;
      }
    }, RETRY_EVERY_MS);
    this.#retryTimer.unref();
  }

  /** Rows not yet both durable and in LMDB because a write failed: admission stops while any is held. */
  get heldRows(): number {
    return (this.#journalFailing ? this.#queuedRows : 0) + (this.#applyFailing ? this.#behindRows : 0);
  }

  #updateHealth(): void {
    this.options.health?.setHeld(this.heldRows);
    this.options.progress?.set('pendingRows', this.#queuedRows + this.#behindRows);
  }

  /**
   * Writes what is queued, waits for LMDB to have every durable group (both
   * bounded by `lastTryMs` when writes fail), empties the journal when LMDB
   * has it all, and logs rows that never reached the journal as
   * `ledger_unwritten_row` JSON for `tollgate ledger replay`. Returns how many.
   */
  async close(lastTryMs = 2_000): Promise<number> {
    const end = Date.now() + lastTryMs;
    if (this.#queue.length) this.#group();
    while ((this.#queue.length || this.#behind.length || this.#applying) && Date.now() < end) {
      if (this.#queue.length && !this.#scheduled) this.#group();
      await Promise.race([this.#applyBehind(), sleep(50)]);
    }
    this.#closed = true;
    this.#cancelApply();
    if (this.#retryTimer) clearInterval(this.#retryTimer);
    this.#retryTimer = undefined;
    const left = this.#queue.splice(0);
    for (const s of left) {
      for (const row of decodeRows(s.batch)) this.#log('error', 'ledger_unwritten_row', { why: 'closed while the disk refused writes', row });
      this.unwritten += s.rows;
    }
    const inLmdb = !this.#behind.length && !this.#applying;
    if (inLmdb) {
      await this.ledger.flushed();
      this.journal.reset();
    }
    this.journal.close();
    if (!inLmdb) this.#log('error', 'ledger closed before LMDB had every row: they are in the journal and are replayed at the next start', { rows: this.#behindRows });
    return this.unwritten;
  }

  #log(level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>): void {
    if (this.options.log) this.options.log(level, msg, fields);
    else if (level === 'error') process.stderr.write(JSON.stringify({ level, msg, ...fields }) + '\n');
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function describe(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 300);
}
