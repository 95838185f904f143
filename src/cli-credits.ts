import { randomUUID } from 'node:crypto';
import { adminPath } from './cli-admin-client.js';
import { CONNECTION_OPTIONS, UsageError, cell, positional, runGroup, type CommandIo, type Subcommand } from './cli-admin-command.js';
import { table } from './cli-table.js';

// `tollgate credits add|show`: top up a customer's prepaid wallet (or, with
// --key, one issued key's own) and read its balance and transactions. Every top-up carries an idempotency key: the
// one given, else a fresh one that is printed, so re-running the command
// with it after a lost answer cannot credit twice.

export const CREDITS_USAGE = `usage:
  tollgate credits add  CUSTOMER AMOUNT [--key KEY_ID] [--currency CUR] [--idempotency-key K] [--reference TEXT]
  tollgate credits show CUSTOMER [--key KEY_ID]
  --key: the wallet of one of the customer's keys (issued with a wallet of its own).
  AMOUNT is a decimal in the currency (10 or 10.50); the wallet's currency unless --currency
  names another (converted with the node's exchangeRates). Without --idempotency-key a new
  key is made and printed: re-run with it if the answer was lost.
${CONNECTION_OPTIONS}`;

const walletPath = (customer: string, key: string | undefined, what: string) =>
  key === undefined ? adminPath('/admin/customers', customer, what) : adminPath('/admin/customers', customer, 'keys', key, what);

const money = (m: any) => (m && typeof m === 'object' ? `${cell(m.amount)} ${cell(m.currency)}` : cell(m));

const SUBCOMMANDS: Record<string, Subcommand> = {
  add: {
    spec: { values: ['--key', '--currency', '--idempotency-key', '--reference'] },
    run: async (call) => {
      const customer = positional(call.args, 0, 'CUSTOMER');
      const amountText = positional(call.args, 1, 'AMOUNT');
      // A plain decimal only: "1e3", "0x10" or "10,50" are typing mistakes, not amounts.
      if (!/^-?[0-9]+(\.[0-9]+)?$/.test(amountText)) throw new UsageError(`AMOUNT: a decimal such as 10 or 10.50 (got "${amountText}")`);
      const key = call.args.values.get('--idempotency-key') ?? `cli-${randomUUID()}`;
      const body: Record<string, unknown> = { amount: Number(amountText), idempotency_key: key };
      const currency = call.args.values.get('--currency');
      if (currency !== undefined) body.currency = currency;
      const reference = call.args.values.get('--reference');
      if (reference !== undefined) body.reference = reference;
      const keyId = call.args.values.get('--key');
      const answer = await call.request('POST', walletPath(customer, keyId, 'credits'), body);
      call.print(answer, () => `credited ${amountText}${currency ? ` ${currency}` : ''} to ${customer}${keyId ? ` key ${keyId}` : ''}: transaction ${answer.transaction_id}, balance ${money(answer.balance)}\nidempotency key ${key}`);
    },
  },
  show: {
    spec: { values: ['--key'] },
    run: async (call) => {
      const customer = positional(call.args, 0, 'CUSTOMER');
      const answer = await call.request('GET', walletPath(customer, call.args.values.get('--key'), 'wallet'));
      call.print(answer, () => {
        const txs = answer.transactions ?? [];
        return `balance ${money(answer.balance)}\n` + (txs.length
          ? table(['ts', 'type', 'amount', 'transaction_id', 'reference'], txs.map((t: any) => [cell(t.ts), cell(t.type), cell(t.amount), cell(t.transaction_id), cell(t.reference)]), { left: 2 })
          : 'no transactions');
      });
    },
  },
};

export const runCredits = (argv: readonly string[], io?: CommandIo) => runGroup('credits', CREDITS_USAGE, SUBCOMMANDS, argv, io);
