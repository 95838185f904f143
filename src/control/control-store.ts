import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CustomerConfig, PlanConfig } from '../config/schema.js';
import { AuditLog } from './audit-log.js';
import type { ControlChange, ControlSnapshot, KeyRecord, SpendOffset } from './control-records.js';
import { writeTransaction } from '../store/lmdb-writes.js';

// The durable runtime state: customers and plans written through the admin
// API, every issued key (hash only), spend resets, and one global version,
// in the `control` db of the ledger's LMDB environment (dataDir/tollgate.lmdb).
// One transaction per write holds the records, the version and the audit
// entry, so a write is all there or not there at all.
//
// Keys: ['v'] → version; ['c', id] → customer; ['p', name] → plan;
// ['k', key_id] → key; ['o', budget key] → spend offset; ['u', key_id] → last_used_at (ms).

type Key = [string] | [string, string];

export class ControlStore {
  readonly #root: RootDatabase;
  readonly #db: Database<unknown, Key>;
  readonly audit: AuditLog;

  constructor(dataDir: string, sync = true) {
    mkdirSync(dataDir, { recursive: true });
    // The ledger's environment (same path and flags: lmdb-js shares one environment per path in a process).
    this.#root = open({ path: join(dataDir, 'tollgate.lmdb'), maxDbs: 16, compression: false, noSync: !sync });
    this.#db = this.#root.openDB({ name: 'control', encoding: 'msgpack' });
    this.audit = new AuditLog(this.#root);
  }

  get version(): number {
    return (this.#db.get(['v']) as number | undefined) ?? 0;
  }

  load(): ControlSnapshot & { lastUsed: Map<string, number> } {
    const range = <T>(kind: string) => [...this.#db.getRange({ start: [kind, ''], end: [kind, '\uffff'] })].map((e) => e.value as T);
    const lastUsed = new Map<string, number>();
    for (const { key, value } of this.#db.getRange({ start: ['u', ''], end: ['u', '\uffff'] })) lastUsed.set(key[1]!, value as number);
    return {
      version: this.version,
      customers: range<CustomerConfig>('c'),
      plans: range<PlanConfig>('p'),
      keys: range<KeyRecord>('k'),
      offsets: range<SpendOffset>('o'),
      lastUsed,
    };
  }

  /** Writes one change (and its audit entries) in one transaction; resolves once it is durable. */
  commit(change: ControlChange): Promise<void> {
    return writeTransaction(this.#db, () => {
      this.#apply(change);
      for (const a of change.audit ?? []) this.audit.put(a);
    }).then(() => undefined);
  }

  #apply(change: ControlChange): void {
    const db = this.#db;
    for (const d of change.deltas) {
      switch (d.t) {
        case 'customer': void db.put(['c', d.customer.id], d.customer); break;
        case 'customer-deleted': void db.remove(['c', d.id]); break;
        case 'plan': void db.put(['p', d.plan.name], d.plan); break;
        case 'plan-deleted': void db.remove(['p', d.name]); break;
        case 'key': void db.put(['k', d.key.key_id], d.key); break;
        case 'key-revoked': void db.remove(['k', d.key_id]); void db.remove(['u', d.key_id]); break;
        case 'spend-reset': for (const o of d.offsets ?? []) void db.put(['o', o.key], o); break;
      }
    }
    if (change.version > this.version) void db.put(['v'], change.version);
  }

  /** last_used_at of keys, one batch (not versioned, not audited: it is usage, not configuration). */
  touchKeys(used: Iterable<[string, number]>): Promise<void> {
    return writeTransaction(this.#db, () => {
      for (const [id, ts] of used) if (this.#db.doesExist(['k', id])) void this.#db.put(['u', id], ts);
    }).then(() => undefined);
  }

  lastUsed(keyId: string): number | undefined {
    return this.#db.get(['u', keyId]) as number | undefined;
  }

  close(): Promise<void> {
    return this.#root.close();
  }
}
