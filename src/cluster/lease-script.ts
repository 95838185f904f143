import type { Redis, Result } from 'ioredis';

// The one atomic step every node takes on a budget in Redis: report its
// settled spend, renew its lease, and take or give back budget, in a single
// Lua script so no two nodes can both take the last of a budget.
//
// One hash per budget and period:
//   cap        the budget's global hard cap, in counter units
//   g:<node>   what <node> may commit this period — its lease, as a running total
//   s:<node>   what <node> has settled this period, read from its own ledger
//   e:<node>   when <node>'s lease lapses (ms, Redis clock)
//   r:<node>   <node>'s unused room (g − committed) when it last spoke: a hint for recalls
// A node's claim is max(g, s) while its lease lives and s once it lapses, so
// a node killed with -9 gives its unused lease back within the lease TTL.
// When a call cannot be served from what is free but would be if the other
// nodes gave back the room they sit on, the script publishes the budget's
// key on the recall channel and they do (lease-manager.ts).
//
// Every value a node sends is absolute, never a delta: s only grows (max), g
// is the total the node wants to hold. A batch replayed after a lost reply,
// or every node re-sending its state to a Redis that restarted empty, cannot
// double-count anything.

const LUA = `
local key = KEYS[1]
local node = ARGV[1]
local cap = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local spent = tonumber(ARGV[4])
local want = tonumber(ARGV[5])
local floor = tonumber(ARGV[6])
local need = tonumber(ARGV[7])
local growMin = tonumber(ARGV[8])
local ppm = tonumber(ARGV[9])
local expireAt = tonumber(ARGV[10])
local recall = ARGV[11]
-- A wallet (cap -1): the cap is what was credited, kept here by the credit script (credit-script.ts).
if cap < 0 then cap = tonumber(redis.call('HGET', key, 'cap') or '0') end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- Lua numbers are doubles: write integers with %d, never tostring (which gives 1e+15).
local function int(x) return string.format('%d', x) end

local g, s, e, r, nodes = {}, {}, {}, {}, {}
local h = redis.call('HGETALL', key)
for i = 1, #h, 2 do
  local kind, who = string.match(h[i], '^(%a):(.+)$')
  if kind then
    local v = tonumber(h[i + 1])
    if kind == 'g' then g[who] = v elseif kind == 's' then s[who] = v elseif kind == 'e' then e[who] = v elseif kind == 'r' then r[who] = v end
    nodes[who] = true
  end
end
nodes[node] = true
if spent > (s[node] or 0) then s[node] = spent end

local others, active, total, outstanding, othersRoom = 0, 1, 0, 0, 0
for who in pairs(nodes) do
  local sv = s[who] or 0
  total = total + sv
  if who ~= node then
    local gv = g[who] or 0
    if gv > sv and (e[who] or 0) > now then
      others = others + gv
      active = active + 1
      outstanding = outstanding + gv - sv
      othersRoom = othersRoom + math.max(0, math.min(r[who] or 0, gv - sv))
    else
      if gv > sv then redis.call('HSET', key, 'g:' .. who, int(sv)) end
      others = others + sv
    end
  end
end

local mine = s[node] or 0
local held = g[node] or 0
if (e[node] or 0) <= now or held < mine then held = mine end
local lo = math.max(mine, floor)
local ceiling = math.max(lo, cap - others)
if ppm > 0 then
  local free = cap - others - math.max(held, lo)
  local chunk = 0
  if free > 0 then chunk = math.floor(free * ppm / 1000000 / active) end
  if chunk < growMin then chunk = 0 end
  if math.max(held, lo) + chunk > want then want = math.max(held, lo) + chunk end
end
local target = want
if target < 0 then target = held end
if target < lo then target = lo end
if target > ceiling then target = ceiling end
if need >= 0 and target < need then
  target = lo
  -- The call fits only if other nodes give back the room they sit on: ask them to.
  if othersRoom > 0 and recall ~= '' then redis.call('PUBLISH', recall, key) end
end
r[node] = math.max(0, target - floor)
redis.call('HSET', key, 'cap', int(cap), 'g:' .. node, int(target), 's:' .. node, int(mine), 'e:' .. node, int(now + ttl), 'r:' .. node, int(r[node]))
if expireAt > 0 then redis.call('PEXPIREAT', key, int(expireAt)) end
return { target, total, mine, others, active, ceiling, now, outstanding, othersRoom, cap }
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tgLease(key: string, ...args: string[]): Result<number[], Context>;
  }
}

export function defineLeaseScript(redis: Redis): void {
  redis.defineCommand('tgLease', { numberOfKeys: 1, lua: LUA });
}

/** What a node asks of one budget in one period. Amounts are counter units. */
export interface LeaseRequest {
  node: string;
  /** The budget's hard cap; -1: a wallet, whose cap (what was credited) Redis keeps. */
  cap: bigint;
  ttlMs: number;
  /** This node's settled spend this period, from its ledger (absolute). */
  spent: bigint;
  /** The total this node wants to hold; -1: keep what it holds. */
  want: bigint;
  /** What this node has committed locally: it is never granted less. */
  floor: bigint;
  /** The least total that serves the calls waiting; below it everything unused goes back. -1: none. */
  need: bigint;
  /** Grow the lease by a share of the unclaimed remainder (parts per million, split between active nodes); 0: no. */
  growPpm: number;
  /** A share smaller than this is not worth taking (it could not serve a call). */
  growMin: bigint;
  /** When the key may be dropped (ms since epoch); 0: never (budgets of period `total`). */
  expireAt: number;
  /** Channel on which to ask the other nodes to give back unused room when a call does not fit; '': never. */
  recall: string;
}

export interface LeaseReply {
  /** What this node may now commit this period (its new running total). */
  granted: bigint;
  /** Settled spend of every node this period. */
  spentTotal: bigint;
  /** This node's settled spend as Redis holds it. */
  mine: bigint;
  /** What the other nodes claim (live leases, else their spend). */
  others: bigint;
  /** Nodes holding a live lease, this one included. */
  active: number;
  /** The most this node could have been granted. */
  ceiling: bigint;
  /** Redis clock, ms. */
  now: number;
  /** What other nodes hold but have not settled: it may still come back (returns, failed calls). */
  outstanding: bigint;
  /** Unused room the other nodes reported (could serve calls here if they gave it back). */
  othersRoom: bigint;
  /** The cap the step used: for a wallet, what was credited in all. */
  cap: bigint;
}

export function leaseArgs(r: LeaseRequest): string[] {
  return [r.node, String(r.cap), String(r.ttlMs), String(r.spent), String(r.want), String(r.floor), String(r.need), String(r.growMin), String(r.growPpm), String(r.expireAt), r.recall];
}

export function parseLeaseReply(raw: unknown): LeaseReply {
  const a = raw as number[];
  if (!Array.isArray(a) || a.length !== 10) throw new Error(`unexpected lease script reply: ${JSON.stringify(raw)}`);
  return {
    granted: BigInt(a[0]!), spentTotal: BigInt(a[1]!), mine: BigInt(a[2]!), others: BigInt(a[3]!),
    active: Number(a[4]), ceiling: BigInt(a[5]!), now: Number(a[6]), outstanding: BigInt(a[7]!), othersRoom: BigInt(a[8]!), cap: BigInt(a[9]!),
  };
}
