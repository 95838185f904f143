import type { Redis, Result } from 'ioredis';

// A wallet top-up in cluster mode, in one Lua script so two copies of one
// top-up on two nodes credit once. The wallet's lease hash (lease-script.ts)
// keeps what was credited in its `cap` field — nodes lease against it and
// never write it (they send cap -1) — and a second hash keeps each
// idempotency key's transaction: `<transaction_id>|<amount_nano>`.

const LUA = `
local budget = KEYS[1]
local credits = KEYS[2]
local idem = ARGV[1]
local entry = ARGV[2] .. '|' .. ARGV[3]
local amount = tonumber(ARGV[3])
local function int(x) return string.format('%d', x) end
local first = redis.call('HGET', credits, idem)
if first then
  return { first, int(tonumber(redis.call('HGET', budget, 'cap') or '0')), 0 }
end
redis.call('HSET', credits, idem, entry)
local cap = tonumber(redis.call('HGET', budget, 'cap') or '0') + amount
redis.call('HSET', budget, 'cap', int(cap))
return { entry, int(cap), 1 }
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tgCredit(budgetKey: string, creditsKey: string, ...args: string[]): Result<[string, string, number], Context>;
  }
}

export function defineCreditScript(redis: Redis): void {
  redis.defineCommand('tgCredit', { numberOfKeys: 2, lua: LUA });
}

export interface CreditReply {
  /** The transaction that stands for this idempotency key (this one, or the first). */
  transactionId: string;
  amountNano: bigint;
  /** What the wallet has been credited in all, across the cluster. */
  credited: bigint;
  /** False: the key was used before (on any node) and nothing was credited now. */
  fresh: boolean;
}

export function parseCreditReply(raw: [string, string, number]): CreditReply {
  const [entry, credited, fresh] = raw;
  const bar = entry.lastIndexOf('|');
  return { transactionId: entry.slice(0, bar), amountNano: BigInt(entry.slice(bar + 1)), credited: BigInt(credited), fresh: Number(fresh) === 1 };
}
