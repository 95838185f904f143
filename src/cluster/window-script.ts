import type { Redis, Result } from 'ioredis';

// The one atomic step a node takes on a velocity window in Redis: ask for a
// grant of the window for one bucket. One hash per window (rate key):
//   <epoch>   what every node together was granted (or reported using) in
//             that bucket of the window (bucket = window / 60)
// The script sums the buckets of the window that ends at `epoch` and grants
// at most what is left under the limit, so no two nodes can both take the
// last of a window. Unused grants come back and use beyond a grant (tokens
// settled above their estimate, calls admitted while Redis was away under
// redisDown: open) is reported with plain HINCRBY (window-leases.ts).
//
// Grants count in full the moment they are made: a lost reply leaves Redis
// counting more than was used (under-admission for at most one window, never
// over-admission).

const LUA = `
local key = KEYS[1]
local epoch = tonumber(ARGV[1])
local buckets = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local need = tonumber(ARGV[4])
local ppm = tonumber(ARGV[5])
local now = tonumber(ARGV[6])
local width = tonumber(ARGV[7])
local function int(x) return string.format('%d', x) end
local h = redis.call('HGETALL', key)
local sum, live = 0, {}
for i = 1, #h, 2 do
  local e = tonumber(h[i])
  local v = tonumber(h[i + 1])
  if e == nil or e <= epoch - buckets then
    redis.call('HDEL', key, h[i])
  else
    -- A bucket ahead of this one (a node whose clock runs ahead) counts too.
    sum = sum + v
    live[e] = v
  end
end
local free = limit - sum
if free < need then
  -- Full: when will enough of the window have expired? Oldest buckets first.
  local excess, wait = need - free, width * buckets
  for e = epoch - buckets + 1, epoch do
    excess = excess - (live[e] or 0)
    if excess <= 0 then wait = (e + buckets) * width - now break end
  end
  return { 0, int(free), int(math.max(1, wait)) }
end
-- The call's amount plus a share of what else is free, so the next calls need not ask.
local grant = need + math.floor((free - need) * ppm / 1000000)
redis.call('HINCRBY', key, int(epoch), int(grant))
redis.call('PEXPIRE', key, int(width * buckets * 2))
return { int(grant), int(free - grant), 0 }
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tgWindow(key: string, ...args: string[]): Result<(number | string)[], Context>;
  }
}

export function defineWindowScript(redis: Redis): void {
  redis.defineCommand('tgWindow', { numberOfKeys: 1, lua: LUA });
}

export interface WindowGrantRequest {
  epoch: number;
  buckets: number;
  limit: number;
  /** The call's amount: granted in full or not at all. */
  need: number;
  /** Besides `need`, this share (parts per million) of what else is free, so the next calls need not ask. */
  ppm: number;
  /** The node's clock (ms), for the retry-after of a full window. */
  now: number;
  widthMs: number;
}

export interface WindowGrant {
  granted: number;
  /** What the window had left after this grant (before it when refused). */
  free: number;
  /** Refused: ms until enough of the window has expired. */
  retryAfterMs: number;
}

export function windowArgs(r: WindowGrantRequest): string[] {
  return [r.epoch, r.buckets, r.limit, r.need, r.ppm, r.now, r.widthMs].map((n) => String(Math.round(n)));
}

export function parseWindowGrant(raw: unknown): WindowGrant {
  const a = raw as (number | string)[];
  if (!Array.isArray(a) || a.length !== 3) throw new Error(`unexpected window script reply: ${JSON.stringify(raw)}`);
  return { granted: Number(a[0]), free: Number(a[1]), retryAfterMs: Number(a[2]) };
}
