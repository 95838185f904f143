import { Counter, Gauge, Registry } from 'prom-client';
import type { ShipStats } from '../store/pg/ledger-shipper.js';

/** Shipping to the cluster ledger (ledger.postgres) as metrics, read from the shipper's stats on every collection. */
export function shipGauges(stats: () => ShipStats): Registry {
  const registry = new Registry();
  const registers = [registry];
  const gauge = (name: string, help: string, read: (s: ShipStats) => number) =>
    new Gauge({ name, help, registers, collect() { this.set(read(stats())); } });
  // Counters only grow: each collection adds what the shipper counted since the last one.
  const counter = (name: string, help: string, read: (s: ShipStats) => number) => {
    let seen = 0;
    return new Counter({ name, help, registers, collect() {
      const v = read(stats());
      if (v > seen) this.inc(v - seen);
      seen = v;
    } });
  };
  gauge('tollgate_ledger_ship_lag_rows', 'Usage rows committed locally and not yet shipped to the cluster ledger (PostgreSQL).', (s) => s.lagRows);
  gauge('tollgate_ledger_ship_connected', '1 while the last shipping attempt reached the cluster ledger (PostgreSQL), else 0.', (s) => (s.connected ? 1 : 0));
  counter('tollgate_ledger_ship_rows_total', 'Usage rows this node inserted into the cluster ledger.', (s) => s.shipped);
  counter('tollgate_ledger_ship_duplicates_total', 'Rows sent that the cluster ledger already had (re-sent after a restart or an unknown outcome; skipped, never counted twice).', (s) => s.duplicates);
  counter('tollgate_ledger_ship_batches_total', 'Batches committed to the cluster ledger.', (s) => s.batches);
  counter('tollgate_ledger_ship_errors_total', 'Failed shipping attempts (database unreachable or a statement failed); each is retried with backoff.', (s) => s.errors);
  return registry;
}
