import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { ErrorType } from '../http/errors.js';
import { addRow, emptyAggregate, spentIn, type Aggregate } from '../store/aggregates.js';
import { walletKey } from '../budget/scope-budgets.js';
import type { Ledger } from '../store/ledger.js';
import type { AuditLog } from '../control/audit-log.js';
import { ownerId, type WalletOwner, type WalletTransaction, type WalletTransactions } from '../store/wallet-transactions.js';
import type { CreditReply } from '../cluster/credit-script.js';
import { toWalletNano, type CreditRequest } from './credit-request.js';

// The supervisor's side of prepaid wallets. A wallet is a budget slot of
// period `prepaid` (scope-budgets.ts): shards reserve from it and settle to
// it like any budget, so the atomic guarantee across shards (and, through
// leases, across nodes) is the budget table's. This book owns what only the
// supervisor may do: credit it (durably, once per idempotency key), raise
// its cap, and answer for its balance.
//
// A wallet belongs to a customer, or to one issued key (`wallet` on the key:
// a "virtual endpoint" with its own credit pool; a call on the key must fit
// in it and in the customer's wallet, if the customer has one too).
//
// Balance = credited − charged. Credited is the sum of the wallet's
// transactions (single node; in cluster mode Redis's total, credit-script.ts).
// Charged is the ledger's `total` aggregate of the customer, or of the key
// (the rows naming it), so after any restart the balance is rebuilt exactly
// from what is on disk.

export interface WalletBookDeps {
  config: Config;
  table: BudgetTable;
  ledger: Pick<Ledger, 'reports' | 'rows'>;
  store: WalletTransactions;
  /**
   * The wallet, bound to its slot (resolving the scope, and in cluster mode
   * leasing it), with what the ledger charged it in all; a failure when the
   * customer or key has none (or the key is not the customer's).
   */
  resolveWallet: (owner: WalletOwner) => Promise<BoundWallet | WalletFailure>;
  /** The admin audit log (src/control/audit-log.ts): every transaction written, with its actor, in the transaction's own commit. */
  auditLog?: Pick<AuditLog, 'put'>;
  /** Cluster mode: the top-up goes through Redis, once per idempotency key across nodes. */
  remote?: {
    credit(ref: Pick<BudgetRef, 'key' | 'slot'>, idempotencyKey: string, transactionId: string, amountNano: bigint): Promise<CreditReply>;
    knowsCredit(walletKey: string, idempotencyKey: string): Promise<boolean>;
  };
}

export type WalletFailure = { ok: false; type: ErrorType; message: string };

/** A wallet bound to its counter slot, and what the ledger charged it in all (read when asked: it moves with every call). */
export interface BoundWallet { ok: true; ref: BudgetRef; charged: () => Aggregate }

export interface Money { amount: number; currency: string }

export interface CreditOutcome { ok: true; transaction_id: string; balance: Money; repeated: boolean }

export interface WalletView {
  ok: true;
  customer: string;
  /** An issued key's own wallet. */
  key_id?: string;
  balance: Money;
  credited: Money;
  charged: Money;
  reserved: Money;
  transactions: PublicTransaction[];
}

export interface PublicTransaction {
  transaction_id: string;
  ts: string;
  type: WalletTransaction['type'];
  amount: number;
  currency: string;
  reference: string | null;
  /** Debits: calls that day (debits are summarised per day from the ledger). */
  calls?: number;
  original?: { amount: number; currency: string };
}

const nanoToUnits = (n: bigint) => Number(n) / 1e9;

export class WalletBook {
  /** Σ transactions per wallet (ownerId; single node): what each wallet was credited. */
  readonly #credits: Map<string, bigint>;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: WalletBookDeps) {
    this.#credits = deps.store.totals();
  }

  /** What a wallet's counter slot starts with: its cap and limit are what was credited (0 in cluster mode: the lease sets it). */
  creditedFor(ref: Pick<BudgetRef, 'scope'>): bigint {
    return this.deps.remote ? 0n : (this.#credits.get(ownerId(ownerOf(ref))) ?? 0n);
  }

  /**
   * Credits, refunds and adjustments run one at a time: a refund's check
   * against the balance and its write cannot interleave with another's.
   * (Admin writes: a few per second at most, never on a call's path.)
   */
  credit(req: CreditRequest, actor: string, now = Date.now()): Promise<CreditOutcome | WalletFailure> {
    const run = this.#writes.then(() => this.#credit(req, actor, now));
    this.#writes = run.catch(() => undefined);
    return run;
  }

  async #credit(req: CreditRequest, actor: string, now: number): Promise<CreditOutcome | WalletFailure> {
    const owner: WalletOwner = { customer: req.customer, ...(req.key_id !== undefined ? { key_id: req.key_id } : {}) };
    const found = await this.deps.resolveWallet(owner);
    if (!found.ok) return found;
    const { ref, charged } = found;
    const converted = toWalletNano(req.amount, req.currency ?? ref.unit, ref.unit, this.deps.config.exchangeRates);
    if (typeof converted === 'string') return { ok: false, type: 'invalid_request_error', message: converted };
    // A refund gives back credit the customer has not used: never more than the balance.
    const nano = req.type === 'refund' ? -converted : converted;
    if (req.type === 'refund' && !this.deps.store.findIdempotent(owner, req.idempotencyKey)) {
      const balance = this.#credited(ref) - this.#charged(ref, charged);
      if (converted > balance) return { ok: false, type: 'invalid_request_error', message: `amount: a refund of ${nanoToUnits(converted)} ${ref.unit} is more than the balance (${nanoToUnits(balance)} ${ref.unit})` };
    }
    let tx: WalletTransaction = {
      transaction_id: `wtx_${randomBytes(12).toString('hex')}`,
      customer: req.customer,
      ...(req.key_id !== undefined ? { key_id: req.key_id } : {}),
      ts: now,
      type: req.type,
      amount_nano: String(nano),
      currency: ref.unit,
      idempotency_key: req.idempotencyKey,
      ...(req.reference !== undefined ? { reference: req.reference } : {}),
      ...(req.currency !== undefined && req.currency !== ref.unit ? { original: { amount: req.amount, currency: req.currency } } : {}),
      source: actor,
    };
    const before = this.#balance(ref, charged, this.#credited(ref));
    // The audit entry is written in the transaction's own commit: a credit is never committed without it (nor answered 503 after it).
    const audit = (balance: Money) => () => this.deps.auditLog?.put({
      ts: now, actor, action: `wallet.${req.type}`, target: req.key_id === undefined ? `customer:${req.customer}` : `customer:${req.customer}/key:${req.key_id}`,
      before: { balance: before }, after: { transaction_id: tx.transaction_id, amount: publicTransaction(tx).amount, currency: ref.unit, reference: req.reference ?? null, balance },
    });
    const { remote } = this.deps;
    let outcome: CreditOutcome;
    if (remote) {
      // Redis decides which copy of a top-up counts, cluster-wide; the local record follows (also for a
      // repeat this node never saw, so a node that crashed between the two writes catches up).
      const r = await remote.credit(ref, req.idempotencyKey, tx.transaction_id, nano);
      if (!r.fresh) tx = { ...tx, transaction_id: r.transactionId, amount_nano: String(r.amountNano) };
      const balance = this.#balance(ref, charged, r.credited);
      const { tx: stands } = await this.deps.store.record(tx, r.fresh ? audit(balance) : undefined);
      outcome = { ok: true, transaction_id: stands.transaction_id, balance, repeated: !r.fresh };
    } else {
      // Credits run one at a time (credit()): what the wallet holds after this one is known before it is written.
      const id = ownerId(owner);
      const credited = (this.#credits.get(id) ?? 0n) + nano;
      const { tx: stands, fresh } = await this.deps.store.record(tx, audit(this.#balance(ref, charged, credited)));
      if (fresh) {
        this.#credits.set(id, credited);
        this.deps.table.setLimit(ref.slot, credited, credited);
      }
      outcome = { ok: true, transaction_id: stands.transaction_id, balance: this.#balance(ref, charged, this.#credits.get(id) ?? 0n), repeated: !fresh };
    }
    return outcome;
  }

  /**
   * Cluster: Redis came (back) up, possibly empty (restarted without
   * persistence). Each of this node's transactions Redis no longer knows is
   * sent again, through the same script (once per idempotency key, so the
   * nodes' copies of one transaction count once). Asked per transaction, not
   * per wallet: another node re-sending its share first makes the wallet
   * known again while this node's other top-ups are still missing.
   * Resolves to the number credited again.
   */
  async resendToRedis(): Promise<number> {
    const remote = this.deps.remote;
    if (!remote) return 0;
    let sent = 0;
    for (const tx of this.deps.store.all()) {
      const key = walletKey(tx.customer, tx.currency, tx.key_id);
      if (await remote.knowsCredit(key, tx.idempotency_key)) continue;
      if ((await remote.credit({ key, slot: -1 }, tx.idempotency_key, tx.transaction_id, BigInt(tx.amount_nano))).fresh) sent++;
    }
    return sent;
  }

  async view(owner: WalletOwner): Promise<WalletView | WalletFailure> {
    const found = await this.deps.resolveWallet(owner);
    if (!found.ok) return found;
    const { ref, charged: total } = found;
    const s = this.deps.table.read(ref.slot);
    const credited = this.#credited(ref);
    const money = (n: bigint): Money => ({ amount: nanoToUnits(n), currency: ref.unit });
    const transactions: PublicTransaction[] = [];
    for (const tx of this.deps.store.list(owner)) transactions.push(publicTransaction(tx));
    const charged = this.#charged(ref, total);
    transactions.push(...(owner.key_id === undefined ? this.#customerDebits(ref) : this.#keyDebits(ref, owner.key_id, spentIn(ref, total()))));
    transactions.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
    return { ok: true, customer: owner.customer, ...(owner.key_id !== undefined ? { key_id: owner.key_id } : {}), balance: money(credited - charged), credited: money(credited), charged: money(charged), reserved: money(s.reserved), transactions };
  }

  /** A customer wallet's debits: one per day the ledger charged the customer (its report index), in the wallet's currency. */
  #customerDebits(ref: BudgetRef): PublicTransaction[] {
    const out: PublicTransaction[] = [];
    for (const d of this.deps.ledger.reports.days(ref.scope.customer, '0000-00-00', '9999-99-99')) {
      if (!d.c.billed_nano) continue;
      const amount = -nanoToUnits(spentIn(ref, { ...d.c, tokens: 0 }));
      out.push({ transaction_id: `debit_${d.day}`, ts: `${d.day}T00:00:00.000Z`, type: 'debit', amount, currency: ref.unit, reference: null, calls: d.c.calls });
    }
    return out;
  }

  /**
   * A key wallet's debits: one per UTC day from the rows naming the key (the
   * report indexes are per customer). Rows retention deleted are one more
   * debit (`debit_earlier`), so the debits always add up to the key's
   * aggregate, which is what the balance is computed from.
   */
  #keyDebits(ref: BudgetRef, keyId: string, chargedNano: bigint): PublicTransaction[] {
    const days = new Map<string, Aggregate>();
    for (const row of this.deps.ledger.rows({ customer: ref.scope.customer })) {
      if (row.key_id !== keyId || row.decision !== 'allowed' || !row.billed_nano) continue;
      const day = new Date(row.ts).toISOString().slice(0, 10);
      let agg = days.get(day);
      if (!agg) days.set(day, (agg = emptyAggregate()));
      addRow(agg, row);
    }
    const out: PublicTransaction[] = [];
    let listed = 0n;
    for (const [day, agg] of days) {
      const nano = spentIn(ref, agg);
      listed += nano;
      out.push({ transaction_id: `debit_${day}`, ts: `${day}T00:00:00.000Z`, type: 'debit', amount: -nanoToUnits(nano), currency: ref.unit, reference: null, calls: agg.calls });
    }
    if (chargedNano !== listed) {
      // Rows past retention (or a currency's rounding per day): the debits still add up to the balance's charges.
      out.push({ transaction_id: 'debit_unlisted', ts: '1970-01-01T00:00:00.000Z', type: 'debit', amount: -nanoToUnits(chargedNano - listed), currency: ref.unit, reference: 'charges not listed per day' });
    }
    return out;
  }

  /** Σ transactions: this book's (single node), or the cluster's as the slot last heard it from Redis. */
  #credited(ref: BudgetRef): bigint {
    return this.deps.remote ? this.deps.table.read(ref.slot).limit : (this.#credits.get(ownerId(ownerOf(ref))) ?? 0n);
  }

  #balance(ref: BudgetRef, charged: () => Aggregate, credited: bigint): Money {
    return { amount: nanoToUnits(credited - this.#charged(ref, charged)), currency: ref.unit };
  }

  /** Every charge against the wallet: this node's ledger, and in cluster mode the other nodes' settled spend as Redis last said. */
  #charged(ref: BudgetRef, total: () => Aggregate): bigint {
    const own = spentIn(ref, total());
    return this.deps.remote ? own + this.deps.table.base(ref.slot) : own;
  }
}

/** Whose wallet a wallet budget is. */
export function ownerOf(ref: Pick<BudgetRef, 'scope'>): WalletOwner {
  return ref.scope.key === undefined ? { customer: ref.scope.customer } : { customer: ref.scope.customer, key_id: ref.scope.key };
}

export function noWallet(owner: WalletOwner): WalletFailure {
  return owner.key_id === undefined
    ? { ok: false, type: 'wallet_not_configured', message: `customer "${owner.customer.slice(0, 200)}" has no wallet: give it (or its plan) \`wallet: { currency }\`` }
    : { ok: false, type: 'wallet_not_configured', message: `key "${owner.key_id.slice(0, 200)}" has no wallet of its own: issue a key with \`wallet: { currency }\`, or credit the customer's wallet` };
}

function publicTransaction(tx: WalletTransaction): PublicTransaction {
  return {
    transaction_id: tx.transaction_id,
    ts: new Date(tx.ts).toISOString(),
    type: tx.type,
    amount: nanoToUnits(BigInt(tx.amount_nano)),
    currency: tx.currency,
    reference: tx.reference ?? null,
    ...(tx.original ? { original: tx.original } : {}),
  };
}
