import { adminPath } from './cli-admin-client.js';
import { CONNECTION_OPTIONS, cell, dataOption, positional, runGroup, type CommandIo, type Subcommand } from './cli-admin-command.js';
import { parseBudget } from './cli-customers.js';
import { table } from './cli-table.js';

// `tollgate keys list|create|revoke`: a customer's API keys through the admin
// API. The secret exists only in the answer to create (the node keeps its
// hash), so create prints it on stdout alone on its line, and the warning on
// stderr, so `KEY=$(tollgate keys create acme)` captures just the key.

export const KEYS_USAGE = `usage:
  tollgate keys list   CUSTOMER
  tollgate keys create CUSTOMER [--name NAME] [--expires-at ISO] [--model M]... [--budget LIMIT:UNIT:PERIOD]... [--wallet CUR] [--data JSON|@FILE|-]
                       --wallet: the key gets its own prepaid wallet in CUR (top it up: tollgate credits add CUSTOMER AMOUNT --key KEY_ID)
  tollgate keys revoke CUSTOMER KEY_ID
  tollgate keys hash   KEY        print the sha256:... form of a client key for keyHashes (no node needed)
${CONNECTION_OPTIONS}`;

const keysPath = (customer: string, ...rest: string[]) => adminPath('/admin/customers', customer, 'keys', ...rest);

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: {
    spec: {},
    run: async (call) => {
      const customer = positional(call.args, 0, 'CUSTOMER');
      const answer = await call.request('GET', keysPath(customer));
      call.print(answer, () => {
        const keys = answer.keys ?? [];
        if (!keys.length) return `no keys issued through the API for ${customer}`;
        return table(['key_id', 'name', 'created_at', 'expires_at', 'last_used_at'], keys.map((k: any) => [k.key_id, cell(k.name), cell(k.created_at), cell(k.expires_at), cell(k.last_used_at)]), { left: 5 });
      });
    },
  },
  create: {
    spec: { values: ['--name', '--expires-at', '--wallet', '--data'], lists: ['--model', '--budget'] },
    run: async (call) => {
      const customer = positional(call.args, 0, 'CUSTOMER');
      const body = dataOption(call.args);
      const name = call.args.values.get('--name');
      if (name !== undefined) body.name = name;
      const expires = call.args.values.get('--expires-at');
      if (expires !== undefined) body.expires_at = expires;
      const models = call.args.lists.get('--model');
      if (models) body.models = models;
      const budgets = call.args.lists.get('--budget');
      if (budgets) body.budgets = budgets.map(parseBudget);
      const wallet = call.args.values.get('--wallet');
      if (wallet !== undefined) body.wallet = { currency: wallet };
      const answer = await call.request('POST', keysPath(customer), body);
      call.print(answer, () => answer.key);
      call.io.err(`key ${answer.key_id} for ${customer}${answer.name ? ` (${answer.name})` : ''}${answer.expires_at ? `, expires ${answer.expires_at}` : ''}: store it now, it is shown only once\n`);
    },
  },
  revoke: {
    spec: {},
    run: async (call) => {
      const customer = positional(call.args, 0, 'CUSTOMER');
      const keyId = positional(call.args, 1, 'KEY_ID');
      const answer = await call.request('DELETE', keysPath(customer, keyId));
      call.print(answer ?? { revoked: keyId }, () => `revoked key ${keyId} of ${customer}: it answers 401 from now on`);
    },
  },
};

export const runKeys = (argv: readonly string[], io?: CommandIo) => runGroup('keys', KEYS_USAGE, SUBCOMMANDS, argv, io);
