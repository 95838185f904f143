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
//
// A credit and its idempotency entry are written in one transaction, which
// checks for the key first: two copies of one top-up credit once.

export type TransactionType = 'credit' | 'debit' | 'adjustment' | 'refund';

export interface WalletTransaction {
  transaction_id: string;
  customer: string;
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
      const first = this.findIdempotent(tx.customer, tx.idempotency_key);
      if (first) return { tx: first, fresh: false };
      this.#db.put(['t', tx.customer, tx.ts, tx.transaction_id], tx);
      this.#db.put(['i', tx.customer, tx.idempotency_key], [tx.ts, tx.transaction_id]);
      alsoWhenFresh?.(); // in the same commit (the audit entry: same LMDB environment)
      return { tx, fresh: true };
    });
  }

  findIdempotent(customer: string, key: string): WalletTransaction | undefined {
    const ref = this.#db.get(['i', customer, key]) as [number, string] | undefined;
    return ref ? (this.#db.get(['t', customer, ref[0], ref[1]]) as WalletTransaction) : undefined;
  }

  /** A customer's transactions, oldest first. */
  *list(customer: string): Generator<WalletTransaction> {
    for (const { value } of this.#db.getRange({ start: ['t', customer], end: ['t', customer, '\uffff'] })) yield value as WalletTransaction;
  }

  /** Every transaction, by customer, oldest first. */
  *all(): Generator<WalletTransaction> {
    for (const { value } of this.#db.getRange({ start: ['t'], end: ['t', '\uffff'] })) yield value as WalletTransaction;
  }

  /** Σ amount per customer: what each wallet was credited (start-up; one read per transaction). */
  totals(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const tx of this.all()) {
      out.set(tx.customer, (out.get(tx.customer) ?? 0n) + BigInt(tx.amount_nano));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#root.close();
  }
}
