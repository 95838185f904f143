import { Gauge, Registry } from 'prom-client';
import type { DriftSummary } from '../store/budget-drift.js';

/** The last budget drift check as gauges (/metrics and OTLP); empty until a check has run. */
export function driftGauges(last: () => DriftSummary | undefined): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({
    name: 'tollgate_budget_drift',
    help: 'Largest |counter − ledger| among budgets of each unit at the last drift check (after repair, if it repaired), in the unit.',
    labelNames: ['unit'],
    registers,
    collect() {
      this.reset();
      for (const [unit, v] of last()?.maxByUnit ?? []) this.set({ unit }, v);
    },
  });
  new Gauge({
    name: 'tollgate_budget_drift_budgets',
    help: 'Budgets whose counter differed from the ledger at the last drift check and were not repaired.',
    registers,
    collect() {
      const l = last();
      if (l) this.set(l.drifted);
    },
  });
  new Gauge({
    name: 'tollgate_budget_drift_checked_timestamp_seconds',
    help: 'When the last drift check ran.',
    registers,
    collect() {
      const l = last();
      if (l) this.set(Math.floor(l.at / 1000));
    },
  });
  return registry;
}
