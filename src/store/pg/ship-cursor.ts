import { open, type RootDatabase } from 'lmdb';
import { join } from 'node:path';

// Where shipping to the cluster ledger stands, kept in LMDB beside the
// ledger (its own small environment: the ledger's databases and keys stay
// as they are): the key of the last row of the ledger's key order shipped,
// per cluster-ledger database (a new, empty database is shipped to from the
// first row). Written only after PostgreSQL committed the batch, so it
// never runs ahead of what the database holds; losing its latest write
// (it is not fsynced) only ships some rows again, which the database skips.

export type ShipKey = [ts: number, requestId: string];

export class ShipCursor {
  readonly #db: RootDatabase<ShipKey, string>;

  constructor(dataDir: string) {
    this.#db = open({ path: join(dataDir, 'cluster-ledger.lmdb'), encoding: 'msgpack', noSync: true });
  }

  get(ledgerId: string): ShipKey | null {
    return this.#db.get(`tail:${ledgerId}`) ?? null;
  }

  set(ledgerId: string, key: ShipKey): void {
    this.#db.putSync(`tail:${ledgerId}`, key);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}
