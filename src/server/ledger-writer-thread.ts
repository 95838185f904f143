import '../clock/use-process-clock.js'; // first: the main thread's TOLLGATE_CLOCK_START offset, before anything reads the time
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import { budgetTimeZones } from '../budget/scope-budgets.js';
import { Journal } from '../store/journal.js';
import { JournalWriter } from '../store/journal-writer.js';
import { Ledger, isLmdbCommitFailure } from '../store/ledger.js';
import { LedgerHealth } from '../store/ledger-health.js';
import { LedgerProgress } from '../store/ledger-progress.js';
import type { LedgerDurableMessage, LedgerRowsMessage, MainToWriter, WriterToMain } from './messages.js';

// The process's one ledger writer: a thread of its own, so the journal's
// fdatasync and the LMDB write-behind never run on a shard's or the
// supervisor's event loop, and any other thread may block briefly on
// read-your-writes (ledger-progress.ts) without stalling the writer.

export interface WriterData {
  config: Config;
  healthSab: SharedArrayBuffer;
  /** This thread's cell in the health table. */
  healthThread: number;
  progressSab: SharedArrayBuffer;
}

const data = workerData as WriterData;
const port = parentPort!;
const send = (m: WriterToMain) => port.postMessage(m);
const log = (level: 'error' | 'warn' | 'info', msg: string, fields?: Record<string, unknown>) => send({ t: 'writer-log', level, msg, fields });
const { config } = data;
const health = new LedgerHealth(data.healthSab, data.healthThread);
const progress = new LedgerProgress(data.progressSab);
const ledger = new Ledger(config.dataDir, config.timezone, config.ledger.sync, config.reports, { zones: budgetTimeZones(config), log });
/**
 * Least time between write-behind commits into LMDB: each costs a fixed
 * amount (aggregates, report indexes, LMDB's own fsync) whatever its rows, and
 * nothing durable waits for it; readers that need it sooner say so (journal-writer.ts).
 * Measured on this thread: ~400 µs of CPU per commit besides ~8 µs per row
 * (lmdb-js's transaction start and commit ~150–250 µs, the aggregate and
 * report-index read-modify-writes ~100–150 µs), plus LMDB's fdatasync on its
 * own thread: ~1–2 ms of CPU per commit over both threads. At 20 ms a 3,000
 * req/s load paid that 50 times a second; at 50 ms, 20; at 100 ms, 10
 * (bench:threads --together at --rate 1500 on a machine loaded by others, 400–970
 * req/s served, medians of 5 rounds against 50 ms: ledger thread 73 vs 76 µs a
 * request, paired −7; LMDB's sync thread 8 vs 21, paired −12; 10 vs 16 LMDB
 * commits/s; at --rate 1800, 6 rounds: paired −11.5 and −10.5. 200 ms against
 * 100, same way: paired −6 and −6, but clients' batch wait p99 rose from the
 * ≤100 ms bucket to ≤250 ms in 3 of 5 rounds, so not taken). The time the
 * writer's loop is held per second is the same at any interval (the per-row
 * work), only in longer pieces: a round of 100 ms of rows holds it ~3 ms at
 * 3,000 req/s. Reads that do not wait for the write-behind see LMDB up to
 * 100 ms plus one commit behind (the cluster lease tick reads settled spend
 * for four quiet ticks of cluster.flushInterval, 200 ms by default, after
 * the last settle).
 */
const WRITE_BEHIND_MS = 100;
const writer = new JournalWriter(ledger, new Journal(config.dataDir, config.ledger.sync, config.ledger.journalSegmentBytes), { progress, health, log, writeBehindMs: WRITE_BEHIND_MS, newRows: true });

// lmdb-js leaves one internal promise per failed commit unobserved; the writer handles that same failure (journal-writer.ts).
process.on('unhandledRejection', (err) => {
  if (isLmdbCommitFailure(err)) return;
  log('error', 'unhandled rejection in the ledger writer', { error: String((err as Error)?.stack ?? err).slice(0, 2000) });
});

/** A shard's stream of batches: one acknowledgement per group, covering its highest batch in it. */
function connect(shard: MessagePort): void {
  let acked = 0;
  let pending = 0;
  const ack = () => {
    if (pending > acked) shard.postMessage({ t: 'ledger-durable', seq: (acked = pending) } satisfies LedgerDurableMessage);
  };
  shard.on('message', (m: LedgerRowsMessage) => {
    writer.submit(Buffer.from(m.buf, 0, m.bytes), m.rows, () => {
      if (pending === acked) queueMicrotask(ack);
      pending = Math.max(pending, m.seq);
    });
  });
}

port.on('message', (m: MainToWriter) => {
  if (m.t === 'writer-connect') connect(m.port);
  else if (m.t === 'writer-close') {
    void writer.close().then((unwritten) => ledger.close().then(() => send({ t: 'writer-closed', id: m.id, unwritten })));
  }
});

send({ t: 'writer-ready', replayed: await writer.recover() });
