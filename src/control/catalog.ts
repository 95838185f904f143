import type { Config, CustomerConfig, PlanConfig } from '../config/schema.js';

// Customers and plans by id, as every budget, policy and identity lookup
// reads them. The config file seeds it; the control plane (control-plane.ts
// on the supervisor, control-link.ts on shards) applies runtime changes to
// it in place, one delta at a time, so a lookup stays one Map hit whether
// there are ten customers or a hundred thousand.

export interface Catalog {
  customer(id: string): CustomerConfig | undefined;
  plan(name: string): PlanConfig | undefined;
  /** The plan of customers first seen through an app key. */
  readonly defaultPlan: string | undefined;
}

export class LiveCatalog implements Catalog {
  readonly #customers = new Map<string, CustomerConfig>();
  readonly #plans = new Map<string, PlanConfig>();
  /** Ids and names the config file defines: managed by the file, never by API writes. */
  readonly configuredCustomers: ReadonlySet<string>;
  readonly configuredPlans: ReadonlySet<string>;
  readonly defaultPlan: string | undefined;

  constructor(config: Pick<Config, 'customers' | 'plans' | 'defaultPlan'>) {
    for (const c of config.customers) this.#customers.set(c.id, c);
    for (const p of config.plans) this.#plans.set(p.name, p);
    this.configuredCustomers = new Set(this.#customers.keys());
    this.configuredPlans = new Set(this.#plans.keys());
    this.defaultPlan = config.defaultPlan;
  }

  customer(id: string): CustomerConfig | undefined {
    return this.#customers.get(id);
  }

  plan(name: string): PlanConfig | undefined {
    return this.#plans.get(name);
  }

  putCustomer(c: CustomerConfig): void {
    this.#customers.set(c.id, c);
  }

  deleteCustomer(id: string): void {
    this.#customers.delete(id);
  }

  putPlan(p: PlanConfig): void {
    this.#plans.set(p.name, p);
  }

  deletePlan(name: string): void {
    this.#plans.delete(name);
  }

  customers(): IterableIterator<CustomerConfig> {
    return this.#customers.values();
  }

  plans(): IterableIterator<PlanConfig> {
    return this.#plans.values();
  }

  get customerCount(): number {
    return this.#customers.size;
  }
}

const indexes = new WeakMap<object, Catalog>();

/** The config file's own customers and plans as a catalog (built once per config object). */
export function configCatalog(config: Pick<Config, 'customers' | 'plans' | 'defaultPlan'>): Catalog {
  let c = indexes.get(config);
  if (!c) indexes.set(config, (c = new LiveCatalog(config)));
  return c;
}
