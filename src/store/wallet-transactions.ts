import { open, type Database, type RootDatabase } from 'lmdb';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeTransaction } from './lmdb-writes.js';

// Prepaid wallets' transactions: a named db (`wallet_transactions`) in the
// ledger's LMDB file, written only by the supervisor. Calls are not written
// here: a wallet's debits are the ledger's rows (its `total` aggregate), so
// balance = Σ transactions − the ledger's charges holds to the nano-unit by
// construction and survives any restart.
//
//   ['t', customer, ts, transaction_id] → WalletTransaction (oldest first per customer)
//   ['i', customer, idempotency_key]    → [ts, transaction_id]
//   ['kt', key_id, ts, transaction_id]  → the same, for an issued key's own wallet
//   ['ki', key_id, idempotency_key]     → [ts, transaction_id]
//
// A credit and its idempotency entry are written in one transaction, which
// checks for the key first: two copies of one top-up credit once.

export type TransactionType = 'credit' | 'debit' | 'adjustment' | 'refund';

/** Whose wallet: a customer's, or (key set) one issued key's own (a "virtual endpoint"'s credit pool). */
export interface WalletOwner {
  customer: string;
  key_id?: string;
}

/** One string per wallet (maps, logs): the customer id, or customer + NUL + key id. */
export function ownerId(o: WalletOwner): string {
  return o.key_id === undefined ? o.customer : `${o.customer}\u0000${o.key_id}`;
}

export interface WalletTransaction {
  transaction_id: string;
  customer: string;
  /** An issued key's own wallet; absent: the customer's wallet. */
  key_id?: string;
  ts: number;
  type: TransactionType;
  /** Signed, in nano-units of the wallet's currency (a string: msgpack and JSON lose int64). */
  amount_nano: string;
  currency: string;
  idempotency_key: string;
  reference?: string;
  /** What was sent, when it was another currency (converted with exchangeRates). */
  original?: { amount: number; currency: string };
  /** Who wrote it: `admin` (the admin API) or `webhook` (a signed top-up). */
  source: string;
}

type Key = (string | number)[];

/** Where an owner's transactions ('t') and idempotency entries ('i') live. */
const path = (o: WalletOwner, kind: 't' | 'i'): Key => (o.key_id === undefined ? [kind, o.customer] : [`k${kind}`, o.key_id]);

export class WalletTransactions {
  readonly #root: RootDatabase;
  readonly #db: Database<unknown, Key>;

  constructor(dataDir: string, sync = true) {
    mkdirSync(dataDir, { recursive: true });
    // The ledger's environment, opened with its flags (lmdb-js shares one environment per path in a process).
    this.#root = open({ path: join(dataDir, 'tollgate.lmdb'), maxDbs: 16, compression: false, noSync: !sync });
    this.#db = this.#root.openDB({ name: 'wallet_transactions', encoding: 'msgpack' });
  }

  /**
   * Writes `tx` unless its customer already used its idempotency key;
   * resolves to the transaction that stands (the new one, or the first).
   * `alsoWhenFresh` writes more in the same transaction when it is new.
   * Committed before it resolves.
   */
  record(tx: WalletTransaction, alsoWhenFresh?: () => void): Promise<{ tx: WalletTransaction; fresh: boolean }> {
    return writeTransaction(this.#root, () => {
      const first = this.findIdempotent(tx, tx.idempotency_key);
      if (first) return { tx: first, fresh: false };
      this.#db.put([...path(tx, 't'), tx.ts, tx.transaction_id], tx);
      this.#db.put([...path(tx, 'i'), tx.idempotency_key], [tx.ts, tx.transaction_id]);
      alsoWhenFresh?.(); // in the same commit (the audit entry: same LMDB environment)
      return { tx, fresh: true };
    });
  }

  findIdempotent(owner: WalletOwner, idempotencyKey: string): WalletTransaction | undefined {
    const ref = this.#db.get([...path(owner, 'i'), idempotencyKey]) as [number, string] | undefined;
    return ref ? (this.#db.get([...path(owner, 't'), ref[0], ref[1]]) as WalletTransaction) : undefined;
  }

  /** A wallet's transactions, oldest first. */
  *list(owner: WalletOwner): Generator<WalletTransaction> {
    const start = path(owner, 't');
    for (const { value } of this.#db.getRange({ start, end: [...start, '\uffff'] })) yield value as WalletTransaction;
  }

  /** Every transaction: customers' wallets, then keys' wallets, each oldest first. */
  *all(): Generator<WalletTransaction> {
    for (const kind of ['t', 'kt']) {
      for (const { value } of this.#db.getRange({ start: [kind], end: [kind, '\uffff'] })) yield value as WalletTransaction;
    }
  }

  /** Σ amount per wallet (ownerId): what each was credited (start-up; one read per transaction). */
  totals(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const tx of this.all()) {
      const id = ownerId(tx);
      out.set(id, (out.get(id) ?? 0n) + BigInt(tx.amount_nano));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#root.close();
  }
}
