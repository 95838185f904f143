import type { Config } from '../config/schema.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { Outbox } from './outbox.js';
import { Deliverer, type DeliveryGate } from './deliverer.js';
import { ThresholdMonitor, eventId } from './threshold-monitor.js';
import { SpendAnomaly } from './spend-anomaly.js';
import { LowBalanceMonitor } from './low-balance.js';

// The supervisor's alerting: threshold crossings, refusals on block
// thresholds, loop detections and spend spikes become durable outbox
// entries, delivered in the background. Nothing here runs on a call's path.

export interface PolicyEvent { kind: 'budget_refused' | 'loop_detected' | 'invalid_usage'; slot?: number; customer: string; agent: string | null; detail: string }

export class Alerting {
  readonly outbox: Outbox;
  readonly #deliverer: Deliverer;
  readonly #monitor: ThresholdMonitor;
  readonly #anomaly: SpendAnomaly | undefined;
  readonly #lowBalance: LowBalanceMonitor;
  #lowBalanceTimer: NodeJS.Timeout | undefined;
  readonly #generalChannels: string[];
  #anomalyTimer: NodeJS.Timeout | undefined;

  /** `gate`: cluster mode, who delivers each outbox entry (src/cluster/alert-claims.ts). */
  constructor(private readonly config: Config, private readonly table: BudgetTable, private readonly refs: () => readonly BudgetRef[], private readonly log: (m: string) => void, gate?: DeliveryGate) {
    this.outbox = new Outbox(config.dataDir);
    this.#deliverer = new Deliverer(config, this.outbox, log, gate);
    this.#monitor = new ThresholdMonitor(config.timezone, table, refs, this.outbox);
    this.#generalChannels = config.alerts.notify ?? config.alerts.channels.map((c) => c.name);
    this.#lowBalance = new LowBalanceMonitor(table, refs, this.outbox, this.#generalChannels);
    const a = config.alerts.anomaly;
    if (a) this.#anomaly = new SpendAnomaly({ factor: a.factor, windowMs: a.window, baselineMs: a.baseline, minNano: a.minUsd * 1e9 });
  }

  start(): void {
    // Outbox writes fail while the disk is full: log (rate-limited) and keep checking.
    let lastError = 0;
    this.#monitor.start(100, (err) => {
      const now = Date.now();
      if (now - lastError < 60_000) return;
      lastError = now;
      this.log(`alerting: threshold check failed: ${(err as Error)?.message ?? err}`);
    });
    this.#deliverer.start();
    this.#lowBalanceTimer = setInterval(() => this.#lowBalance.check(Date.now()).catch((err) => this.log(`alerting: low-balance check failed: ${(err as Error)?.message ?? err}`)), 250);
    this.#lowBalanceTimer.unref();
    if (this.#anomaly) {
      const every = Math.max(1000, Math.min(10_000, this.config.alerts.anomaly!.window / 10));
      this.#anomalyTimer = setInterval(() => this.#sampleAnomalies(Date.now()).catch((err) => this.log(`alerting: anomaly sample failed: ${(err as Error)?.message ?? err}`)), every);
      this.#anomalyTimer.unref();
    }
  }

  async onPolicyEvent(e: PolicyEvent, now = Date.now()): Promise<void> {
    if (e.kind === 'budget_refused' && e.slot !== undefined) {
      const ref = this.refs()[e.slot];
      if (ref) await this.#monitor.refused(ref, now);
      return;
    }
    if (e.kind === 'loop_detected') {
      const minute = Math.floor(now / 60_000);
      const dedupe = `loop|${e.customer}|${e.agent ?? ''}|${minute}`;
      await this.outbox.fire(dedupe, { id: eventId(dedupe), event: 'loop_detected', customer: e.customer, agent: e.agent, detail: e.detail, at: new Date(now).toISOString() }, this.#generalChannels, now);
    }
    if (e.kind === 'invalid_usage') {
      // One alert per customer and minute: a provider gone wrong would otherwise alert on every call.
      const dedupe = `usage|${e.customer}|${Math.floor(now / 60_000)}`;
      await this.outbox.fire(dedupe, { id: eventId(dedupe), event: 'invalid_usage', customer: e.customer, agent: e.agent, detail: e.detail, at: new Date(now).toISOString() }, this.#generalChannels, now);
    }
  }

  async #sampleAnomalies(now: number): Promise<void> {
    const a = this.config.alerts.anomaly!;
    const channels = a.notify.length ? a.notify : this.#generalChannels;
    for (const spike of this.#anomaly!.sample(this.table, this.refs(), now)) {
      const dedupe = `anomaly|${spike.ref.key}|${Math.floor(now / a.baseline)}`;
      const usd = (n: number) => (n / 1e9).toFixed(4);
      await this.outbox.fire(dedupe, {
        id: eventId(dedupe),
        event: 'spend_anomaly',
        customer: spike.ref.scope.customer,
        agent: spike.ref.scope.agent,
        detail: `spent ${usd(spike.recentNano)} USD in the last ${a.window / 1000} s, a rate of ${usd(spike.ratePerHourNano)} USD/h against a baseline of ${usd(spike.baselinePerHourNano)} USD/h`,
        at: new Date(now).toISOString(),
      }, channels, now);
    }
  }

  /**
   * The ledger stopped (or resumed) recording calls. Delivered from memory,
   * not through the outbox: the outbox shares the ledger's disk.
   */
  onLedgerHealth(accepting: boolean, detail: string, now = Date.now()): void {
    const event = accepting ? 'ledger_recovered' : 'ledger_unavailable';
    const id = eventId(`${event}|${now}`);
    this.#deliverer.sendFromMemory({ id, event, customer: '*', agent: null, detail, at: new Date(now).toISOString() }, this.#generalChannels, now);
  }

  get stats() {
    return { thresholds_fired: this.#monitor.fired, delivered: this.#deliverer.delivered, delivered_by_other_nodes: this.#deliverer.skipped, delivery_failures: this.#deliverer.failures, pending: this.outbox.pendingCount() };
  }

  async stop(): Promise<void> {
    this.#monitor.stop();
    clearInterval(this.#anomalyTimer);
    clearInterval(this.#lowBalanceTimer);
    await this.#monitor.check(Date.now()).catch((err) => this.log(`alerting: last threshold check failed: ${(err as Error)?.message ?? err}`)); // a crossing made by the last calls still fires
    await this.#deliverer.stop();
    await this.outbox.close();
  }
}
