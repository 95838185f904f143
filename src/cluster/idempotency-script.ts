import type { Redis, Result } from 'ioredis';

// Who runs a call with an idempotency key, for the whole cluster (issue
// 15.2). One string per (customer, key), hashed:
//   run:<request id>    a node is running the call (PX: the longest a call can run)
//   done:<request id>   the call was charged (PX: idempotencyWindow)
// `claim` takes a free key, or says who holds it; `finish` ends only the
// caller's own claim (or a key nobody holds: an outcome written late, after
// Redis was away): charged → done, else the key is free again.

const LUA = `
local key = KEYS[1]
local op = ARGV[1]
local owner = 'run:' .. ARGV[2]
local v = redis.call('GET', key)
if op == 'claim' then
  if not v or v == owner then
    redis.call('SET', key, owner, 'PX', ARGV[3])
    return { 'claimed', '' }
  end
  if string.sub(v, 1, 5) == 'done:' then return { 'done', string.sub(v, 6) } end
  return { 'in_flight', string.sub(v, 5) }
end
if op == 'finish' then
  -- Another call's claim (ours lapsed and was taken over) or outcome stays.
  if v and v ~= owner then return { 'lost', v } end
  if ARGV[4] == '' then redis.call('DEL', key) else redis.call('SET', key, 'done:' .. ARGV[4], 'PX', ARGV[3]) end
  return { 'finished', '' }
end
return redis.error_reply('unknown op ' .. op)
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tgIdem(key: string, ...args: string[]): Result<[string, string], Context>;
  }
}

export function defineIdempotencyScript(redis: Redis): void {
  redis.defineCommand('tgIdem', { numberOfKeys: 1, lua: LUA });
}

export type ClusterClaim = { outcome: 'claimed' } | { outcome: 'done' | 'in_flight'; requestId: string } | { outcome: 'unavailable' };
