import { describe, expect, it } from 'vitest';
import { WalletBook, type WalletBookDeps } from '../../src/wallet/wallet-book.js';
import type { WalletTransaction, WalletTransactions } from '../../src/store/wallet-transactions.js';
import { walletKey } from '../../src/budget/scope-budgets.js';

// After Redis restarts empty, every node re-sends its top-ups. The nodes do
// so at their own pace: another node may already have put back its share of
// a wallet's top-ups (so the wallet looks known again) while this node's
// other top-ups are still missing. Each top-up is asked after on its own.

const tx = (idem: string, amount: bigint): WalletTransaction => ({
  transaction_id: `tx_${idem}`, customer: 'acme', ts: 0, type: 'credit', amount_nano: String(amount),
  currency: 'USD', idempotency_key: idem, source: 'admin',
});

/** Redis's credit script, in memory: once per idempotency key, cap = Σ credited. */
function fakeRedis() {
  const credits = new Map<string, Map<string, bigint>>();
  const cap = (key: string) => [...(credits.get(key)?.values() ?? [])].reduce((s, a) => s + a, 0n);
  const remote: NonNullable<WalletBookDeps['remote']> = {
    async knowsCredit(key, idem) {
      return credits.get(key)?.has(idem) ?? false;
    },
    async credit(ref, idem, transactionId, amountNano) {
      const wallet = credits.get(ref.key) ?? new Map<string, bigint>();
      credits.set(ref.key, wallet);
      const fresh = !wallet.has(idem);
      if (fresh) wallet.set(idem, amountNano);
      return { transactionId, amountNano: wallet.get(idem)!, credited: cap(ref.key), fresh };
    },
  };
  return { remote, cap };
}

const book = (remote: WalletBookDeps['remote'], txs: WalletTransaction[]) => new WalletBook({
  store: { totals: () => new Map(), all: () => txs } as unknown as WalletTransactions,
  remote,
} as unknown as WalletBookDeps);

describe('WalletBook.resendToRedis', () => {
  const key = walletKey('acme', 'USD');

  it('puts back a top-up Redis lost even when another node already re-sent others of the same wallet', async () => {
    const redis = fakeRedis();
    // The other node (which only saw order-1) re-sent first.
    expect(await book(redis.remote, [tx('order-1', 55n)]).resendToRedis()).toBe(1);
    // This node saw both: order-1 is known again, order-2 is not.
    expect(await book(redis.remote, [tx('order-1', 55n), tx('order-2', 20n)]).resendToRedis()).toBe(1);
    expect(redis.cap(key)).toBe(75n);
  });

  it('sends nothing when Redis still knows every top-up', async () => {
    const redis = fakeRedis();
    const txs = [tx('order-1', 55n), tx('order-2', 20n)];
    expect(await book(redis.remote, txs).resendToRedis()).toBe(2);
    expect(await book(redis.remote, txs).resendToRedis()).toBe(0);
    expect(redis.cap(key)).toBe(75n);
  });
});
