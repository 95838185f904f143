import { adminPath } from './cli-admin-client.js';
import { CONNECTION_OPTIONS, UsageError, cell, dataOption, positional, runGroup, type Call, type CommandIo, type ParsedArgs, type Subcommand } from './cli-admin-command.js';
import { table } from './cli-table.js';

// `tollgate customers list|get|create|update|disable|enable|delete`: the
// control plane's customer writes (POST/PATCH/DELETE /admin/customers) from a
// shell. Bodies have the config file's shapes: --data takes one as JSON, and
// the common fields have their own options, which win over --data.

export const CUSTOMERS_USAGE = `usage:
  tollgate customers list   [--search TEXT] [--limit N] [--cursor C]
  tollgate customers get    ID
  tollgate customers create ID [--plan NAME] [--budget LIMIT:UNIT:PERIOD]... [--wallet CURRENCY] [--metadata K=V]... [--data JSON|@FILE|-]
  tollgate customers update ID [the same options as create]
  tollgate customers disable ID
  tollgate customers enable  ID
  tollgate customers delete  ID
  --budget 100:USD:month gives a budget of 100 USD a month (repeat it for several; on update the
  list replaces the customer's budgets); units: a currency code, tokens or requests; periods: day,
  week, month, quarter, year, total.
${CONNECTION_OPTIONS}`;

const BODY_SPEC = { values: ['--plan', '--wallet', '--data'], lists: ['--budget', '--metadata'] } as const;

/** LIMIT:UNIT:PERIOD as a config budget; anything the API checks (unit, period) is left to it, so its message names the field. */
export function parseBudget(text: string): { limit: number; unit: string; period: string } {
  const m = /^([0-9]+(?:\.[0-9]+)?):([^:]+):([^:]+)$/.exec(text);
  if (!m) throw new UsageError(`--budget: LIMIT:UNIT:PERIOD, e.g. 100:USD:month (got "${text}")`);
  return { limit: Number(m[1]), unit: m[2]!, period: m[3]! };
}

function customerBody(p: ParsedArgs): Record<string, unknown> {
  const body = dataOption(p);
  const plan = p.values.get('--plan');
  if (plan !== undefined) body.plan = plan;
  const wallet = p.values.get('--wallet');
  if (wallet !== undefined) body.wallet = { currency: wallet };
  const budgets = p.lists.get('--budget');
  if (budgets) body.budgets = budgets.map(parseBudget);
  const metadata = p.lists.get('--metadata');
  if (metadata) {
    body.metadata = Object.fromEntries(metadata.map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`--metadata: KEY=VALUE (got "${kv}")`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }));
  }
  return body;
}

const budgetText = (b: any) => `${cell(b.used)}/${cell(b.limit)} ${b.unit}/${b.period}`;

/** One customer as lines of "field  value" and a table of its budgets. */
export function customerText(c: any): string {
  const fields: string[][] = [['id', cell(c.id)]];
  for (const k of ['plan', 'disabled', 'managed_by', 'source', 'state', 'wallet', 'metadata', 'created_at', 'updated_at']) {
    if (c[k] !== undefined && c[k] !== null) fields.push([k, cell(c[k])]);
  }
  const budgets = Array.isArray(c.budgets) ? c.budgets : [];
  return [
    table(['field', 'value'], fields, { left: 2 }).split('\n').slice(1).join('\n'),
    budgets.length
      ? table(['unit', 'period', 'limit', 'used', 'reserved', 'remaining', 'source', 'resets_at'], budgets.map((b: any) => [b.unit, b.period, cell(b.limit), cell(b.used), cell(b.reserved), cell(b.remaining), cell(b.source), cell(b.resets_at)]), { left: 2 })
      : 'no budgets',
  ].join('\n');
}

const one = (path: (id: string) => string, method: string, body?: (p: ParsedArgs) => unknown, done?: (id: string, answer: any) => string): Subcommand['run'] => async (call: Call) => {
  const id = positional(call.args, 0, 'customer ID');
  const answer = await call.request(method, path(id), body?.(call.args));
  call.print(answer, () => (done ? done(id, answer) : customerText(answer)));
};

const customerPath = (id: string) => adminPath('/admin/customers', id);

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: {
    spec: { values: ['--search', '--limit', '--cursor'] },
    run: async (call) => {
      const qs = new URLSearchParams();
      const search = call.args.values.get('--search');
      if (search) qs.set('q', search);
      for (const k of ['limit', 'cursor']) {
        const v = call.args.values.get(`--${k}`);
        if (v) qs.set(k, v);
      }
      const answer = await call.request('GET', `/admin/customers${qs.size ? `?${qs}` : ''}`);
      call.print(answer, () => {
        const rows = (answer.customers ?? []).map((c: any) => [c.id, cell(c.plan), cell(c.state), (c.budgets ?? []).map(budgetText).join(', '), cell(c.month?.calls), cell(c.month?.billed)]);
        const next = answer.next_cursor ? `\nmore: --cursor ${answer.next_cursor}` : '';
        return table(['id', 'plan', 'state', 'budgets (used/limit)', 'calls this month', 'billed this month'], rows, { left: 4 }) + next;
      });
    },
  },
  get: { spec: {}, run: one(customerPath, 'GET') },
  create: {
    spec: BODY_SPEC,
    run: async (call) => {
      const id = positional(call.args, 0, 'customer ID');
      const answer = await call.request('POST', '/admin/customers', { ...customerBody(call.args), id });
      call.print(answer, () => `created customer ${id}\n${customerText(answer)}`);
    },
  },
  update: {
    spec: BODY_SPEC,
    run: one(customerPath, 'PATCH', (p) => {
      const body = customerBody(p);
      if (!Object.keys(body).length) throw new UsageError('nothing to change: give --plan, --budget, --wallet, --metadata or --data');
      return body;
    }),
  },
  disable: { spec: {}, run: one(customerPath, 'PATCH', () => ({ disabled: true }), (id) => `disabled customer ${id}: its calls are refused until it is enabled again`) },
  enable: { spec: {}, run: one(customerPath, 'PATCH', () => ({ disabled: false }), (id) => `enabled customer ${id}`) },
  delete: { spec: {}, run: one(customerPath, 'DELETE', undefined, (id) => `deleted customer ${id}: its keys answer 401; its usage rows and reports stay`) },
};

export const runCustomers = (argv: readonly string[], io?: CommandIo) => runGroup('customers', CUSTOMERS_USAGE, SUBCOMMANDS, argv, io);
