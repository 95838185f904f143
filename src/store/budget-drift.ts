import type { BudgetTable } from '../budget/budget-table.js';
import { counterToUnit, type BudgetRef } from '../budget/budget-ref.js';
import { periodWindow } from '../budget/periods.js';
import type { Ledger } from './ledger.js';
import { spentIn } from './aggregates.js';

// Counters you can trust: compares every live budget counter's settled spend
// (holds excluded) with the sum of the ledger's rows for its scope and
// period, in the budget's unit, and repairs a counter from the ledger — the
// ledger is the record of what was charged; a counter is a fast copy of it.
//
// A counter and the ledger agree only between calls: a call settles its
// counter a moment before its row commits. So each counter is read, the
// ledger summed a little later (rows of calls settled before the first read
// have committed by then), and the counter read again; a counter that moved
// meanwhile is reported `busy` and left alone rather than "repaired" into
// a wrong value. Repair is one compare-exchange on spent (BudgetTable
// .repairSpent): a settle racing it wins and the budget is reported busy.
//
// With retention.usageRows shorter than a budget's period, rows of the
// period may be gone: such a budget is reported `unverifiable`, never
// repaired down to a partial sum.
//
// Cost: one read per row of each budget's current period, on the main
// thread (~1 s per million rows), so it runs when asked for, not on a timer.
// Cluster mode compares this node's counter with this node's ledger; Redis's
// cluster-wide total is not compared (its per-node `s` is refreshed from the
// ledger's aggregate every tick).

export interface DriftEntry {
  customer: string;
  agent: string | null;
  source: string;
  /** An issued key's own budget: the key (source `key`). */
  key_id?: string;
  unit: string;
  period: string;
  period_start: string;
  /** Settled spend the counter holds, in the budget's unit. */
  counter: number;
  /** The ledger's sum for the same scope and period, in the budget's unit. */
  ledger: number;
  /** counter − ledger, in the budget's unit. */
  drift: number;
  rows: number;
  /** unverifiable: retention (retention.usageRows) may have deleted rows of this period, so their sum proves nothing. */
  status: 'ok' | 'drift' | 'repaired' | 'busy' | 'unverifiable';
}

export interface DriftReport {
  checked_at: string;
  checked: number;
  drifted: number;
  repaired: number;
  busy: number;
  unverifiable: number;
  /** Budgets whose counter differs from the ledger (all of them with `all`). */
  budgets: DriftEntry[];
}

export interface DriftSources {
  table: BudgetTable;
  ledger: Pick<Ledger, 'sumRows'>;
  refs: () => readonly (BudgetRef | undefined)[];
  /** Rows held after failed commits are missing from the ledger: no repair then. */
  ledgerAccepting: () => boolean;
  /** retention.usageRows in ms: rows older than now − this may be gone. */
  rowsKeptMs?: number;
}

const SETTLE_WAIT_MS = 250;

export class BudgetDrift {
  /** Largest |drift| of the last check per unit, and how many budgets drifted: the /metrics gauges. */
  #last: DriftSummary | undefined;
  #running: Promise<DriftReport> | undefined;

  constructor(private readonly src: DriftSources) {}

  /** One check at a time: a second request while one runs gets the same report. */
  check(opts: { repair: boolean; all?: boolean }, now = () => Date.now()): Promise<DriftReport> {
    this.#running ??= this.#check(opts, now).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #check(opts: { repair: boolean; all?: boolean }, now: () => number): Promise<DriftReport> {
    const { table, ledger } = this.src;
    const live = this.src.refs().filter((r): r is BudgetRef => r !== undefined);
    const before = live.map((ref) => table.spent(ref.slot));
    await sleep(SETTLE_WAIT_MS);
    const repair = opts.repair && this.src.ledgerAccepting();
    const report: DriftReport = { checked_at: new Date(now()).toISOString(), checked: live.length, drifted: 0, repaired: 0, busy: 0, unverifiable: 0, budgets: [] };
    const keptFrom = this.src.rowsKeptMs === undefined ? -Infinity : now() - this.src.rowsKeptMs;
    // Every unit checked has a series, 0 when none of its budgets is left drifting.
    const maxByUnit = new Map<string, number>(live.map((r) => [r.unit, 0]));
    live.forEach((ref, i) => {
      const start = table.periodStart(ref.slot);
      const end = periodWindow(ref.period, start, ref.timeZone).end;
      // An issued key's own budget counts the rows naming the key.
      const agg = ledger.sumRows(ref.scope.customer, ref.scope.agent, start, end, ref.scope.key);
      const expected = spentIn(ref, agg);
      const counter = table.spent(ref.slot);
      const drift = counter - expected;
      // Money in another currency rounds per call (counter) but once per sum (ledger): up to 1 nano-unit per row apart.
      const tolerance = ref.kind === 'money' && ref.rate !== 1 ? BigInt(agg.calls) : 0n;
      let status: DriftEntry['status'] = 'ok';
      if (start < keptFrom) status = 'unverifiable';
      else if (counter !== before[i]) status = 'busy';
      else if (drift > tolerance || drift < -tolerance) status = repair && table.repairSpent(ref.slot, counter, expected) ? 'repaired' : repair ? 'busy' : 'drift';
      const driftUnits = counterToUnit(ref, drift);
      if (status === 'drift' || status === 'repaired') report.drifted++;
      if (status === 'drift') maxByUnit.set(ref.unit, Math.max(maxByUnit.get(ref.unit)!, Math.abs(driftUnits)));
      if (status === 'repaired') report.repaired++;
      if (status === 'busy') report.busy++;
      if (status === 'unverifiable') report.unverifiable++;
      if (status !== 'ok' || opts.all) {
        report.budgets.push({
          customer: ref.scope.customer, agent: ref.scope.agent, source: ref.scope.source, ...(ref.scope.key ? { key_id: ref.scope.key } : {}), unit: ref.unit, period: ref.period,
          period_start: new Date(start).toISOString(),
          counter: round(counterToUnit(ref, counter)), ledger: round(counterToUnit(ref, expected)), drift: round(driftUnits),
          rows: agg.calls, status,
        });
      }
    });
    // The gauges say what is left: a repaired counter equals the ledger.
    this.#last = { maxByUnit, drifted: report.drifted - report.repaired, at: now() };
    return report;
  }

  /** Prometheus text of the last check (nothing before the first). */
  /** The last check's outcome, for the drift gauges (src/observability/drift-gauges.ts). */
  get last(): DriftSummary | undefined {
    return this.#last;
  }

}

/** What the last drift check found: largest |drift| per unit, budgets left drifted, when. */
export interface DriftSummary { maxByUnit: Map<string, number>; drifted: number; at: number }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (n: number) => Math.round(n * 1e9) / 1e9;
