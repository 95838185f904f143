import { customerView } from '../admin/customer-view.js';
import type { Caller } from '../identity/key-directory.js';
import type { ShardContext } from '../proxy/shard-context.js';
import type { Answer } from './answer.js';

// GET /v1/usage/status: the budgets in scope of the calling key (customer,
// and agent when x-tollgate-agent names one), with their live counters —
// what an app (or tollgate/client's getStatus()) shows its user before it
// spends. The same view an admin gets for that scope; budget counters are
// shared across shards, so any shard answers.

export const STATUS_PATH = '/v1/usage/status';

export async function usageStatus(ctx: ShardContext, caller: Caller, now: number): Promise<Answer> {
  const r = ctx.scopes.get(caller.customer, caller.agent, caller.keyScope);
  const scope = r instanceof Promise ? await r : r;
  const view = customerView(caller.customer, caller.agent, scope.refs, ctx.table, ctx.clock, now);
  return { status: 200, body: { customer: view.id, agent: view.agent, budgets: view.budgets } };
}
