import type { Config } from '../config/schema.js';
import { LiveCatalog } from './catalog.js';
import type { ControlChange, ControlDelta, ControlSnapshot, KeyRecord, SpendOffset } from './control-records.js';

// The runtime state as one thread holds it: the catalog (config customers
// and plans plus runtime ones), issued keys by id and by customer, spend
// offsets of audited resets, and the version of the last change applied.
// The supervisor and every shard hold one each and apply the same deltas;
// `onDelta` lets each side update what it derives (key directory, scope
// cache, budget slots).

export class ControlState {
  readonly catalog: LiveCatalog;
  readonly keys = new Map<string, KeyRecord>();
  readonly keysOf = new Map<string, Set<string>>();
  readonly offsets = new Map<string, SpendOffset>();
  version = 0;

  constructor(config: Config, snapshot?: ControlSnapshot, readonly onDelta: (d: ControlDelta, before: ControlState) => void = () => {}) {
    this.catalog = new LiveCatalog(config);
    if (snapshot) this.#load(snapshot);
  }

  #load(s: ControlSnapshot): void {
    // Config-file customers and plans win over stored records of the same id (the file manages them).
    for (const p of s.plans) if (!this.catalog.configuredPlans.has(p.name)) this.catalog.putPlan(p);
    for (const c of s.customers) if (!this.catalog.configuredCustomers.has(c.id)) this.catalog.putCustomer(c);
    for (const k of s.keys) if (this.catalog.customer(k.customer)) this.#putKey(k);
    for (const o of s.offsets) this.offsets.set(o.key, o);
    this.version = s.version;
  }

  /** Applies one change; a change at or below the version already held is ignored (it was applied). */
  apply(change: ControlChange): boolean {
    if (change.version <= this.version) return false;
    for (const d of change.deltas) this.applyDelta(d);
    this.version = change.version;
    return true;
  }

  applyDelta(d: ControlDelta): void {
    switch (d.t) {
      case 'customer': this.catalog.putCustomer(d.customer); break;
      case 'customer-deleted': this.catalog.deleteCustomer(d.id); break;
      case 'plan': this.catalog.putPlan(d.plan); break;
      case 'plan-deleted': this.catalog.deletePlan(d.name); break;
      case 'key': this.#putKey(d.key); break;
      case 'key-revoked': {
        this.keys.delete(d.key_id);
        this.keysOf.get(d.customer)?.delete(d.key_id);
        break;
      }
      case 'spend-reset': for (const o of d.offsets ?? []) this.offsets.set(o.key, o); break;
    }
    this.onDelta(d, this);
  }

  #putKey(k: KeyRecord): void {
    this.keys.set(k.key_id, k);
    let set = this.keysOf.get(k.customer);
    if (!set) this.keysOf.set(k.customer, (set = new Set()));
    set.add(k.key_id);
  }

  /** What a new shard (or a node catching up) loads: every runtime record. */
  snapshot(): ControlSnapshot {
    return {
      version: this.version,
      customers: [...this.catalog.customers()].filter((c) => !this.catalog.configuredCustomers.has(c.id)),
      plans: [...this.catalog.plans()].filter((p) => !this.catalog.configuredPlans.has(p.name)),
      keys: [...this.keys.values()],
      offsets: [...this.offsets.values()],
    };
  }
}
