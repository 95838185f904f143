import { Gauge, Registry } from 'prom-client';
import type { LedgerState } from '../server/ledger-watch.js';

/** The ledger's health as gauges, read from the supervisor's LedgerWatch on every collection (/metrics and OTLP). */
export function ledgerGauges(state: () => LedgerState): Registry {
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
  return registry;
}
