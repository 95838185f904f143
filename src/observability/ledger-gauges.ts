import { Counter, Gauge, Registry } from 'prom-client';
import type { LedgerState } from '../server/ledger-watch.js';
import type { LedgerProgress, WriterCounter } from '../store/ledger-progress.js';

/** The ledger's health and its writer's counters, read on every collection (/metrics and OTLP): health from the supervisor's LedgerWatch, the rest from the writer thread's shared counters. */
export function ledgerGauges(state: () => LedgerState, progress?: LedgerProgress): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'tollgate_ledger_healthy',
    help: '1 while the usage ledger can record calls; 0 while calls are refused (disk below ledger.minFreeBytes, or rows held after a failed commit).',
    registers,
    collect() {
      this.set(state().accepting ? 1 : 0);
    },
  });
  new Gauge({
    name: 'tollgate_ledger_held_rows',
    help: 'Usage rows held in memory because their commit failed; written when the disk accepts them.',
    registers,
    collect() {
      this.set(state().heldRows);
    },
  });
  new Gauge({
    name: 'tollgate_ledger_free_bytes',
    help: 'Free bytes on the data directory\'s filesystem (for the process user).',
    registers,
    collect() {
      this.set(state().freeBytes ?? NaN);
    },
  });
  if (progress) writerCounters(registers, progress);
  return registry;
}

/** Group commit as it happens: journal commits and rows (rows per commit = their ratio), sync time, write-behind. */
function writerCounters(registers: Registry[], progress: LedgerProgress): void {
  const counter = (name: string, help: string, read: WriterCounter, scale = 1) => new Counter({
    name, help, registers,
    collect() {
      this.reset();
      this.inc(progress.read(read) * scale);
    },
  });
  counter('tollgate_ledger_journal_commits_total', 'Journal groups appended and synced (one fdatasync each, ledger.sync): the durability point of usage rows.', 'journalCommits');
  counter('tollgate_ledger_journal_rows_total', 'Usage rows made durable in the journal; divided by tollgate_ledger_journal_commits_total: rows per group commit.', 'journalRows');
  counter('tollgate_ledger_journal_sync_seconds_total', 'Time spent appending and syncing journal groups.', 'journalSyncMicros', 1e-6);
  counter('tollgate_ledger_lmdb_commits_total', 'LMDB transactions of the write-behind (rows, indexes, aggregates written from the journal).', 'lmdbCommits');
  counter('tollgate_ledger_lmdb_rows_total', 'Usage rows written behind into LMDB.', 'lmdbRows');
  counter('tollgate_ledger_lmdb_commit_seconds_total', 'Time spent in write-behind LMDB transactions.', 'lmdbCommitMicros', 1e-6);
  counter('tollgate_ledger_read_wait_timeouts_total', 'Ledger reads that gave up waiting for the write-behind to catch up with the journal (read-your-writes) and read what LMDB had: nonzero means the writer stalled for seconds.', 'readWaitTimeouts');
  new Gauge({
    name: 'tollgate_ledger_writebehind_rows',
    help: 'Usage rows durable in the journal (or waiting for it) and not yet in LMDB.',
    registers,
    collect() {
      this.set(progress.read('pendingRows'));
    },
  });
}
