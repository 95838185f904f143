import { createHash } from 'node:crypto';
import type { Caller } from '../identity/key-directory.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ShardContext } from './shard-context.js';

// Runaway-loop protection on the call path: the same body from the same
// scope more than `maxRepeats` times within the window is refused (and
// alerted once per window).
//
// In a cluster a loop behind a load balancer spreads its repeats over the
// nodes, so from a body's second sighting on this node the count is the
// cluster's (ctx.countLoopHit: one INCR in Redis per repeat; bodies seen
// once, nearly all of them, never wait on Redis). A node's first sighting
// is added with its second, so the cluster lets through at most
// maxRepeats + (nodes − 1) copies in a window. Redis unreachable: this
// node's count alone (either redisDown policy: it guards, it does not bill).

export interface LoopRefusal { message: string; retryAfter: string }

type Loop = NonNullable<ResolvedScope['loop']>;

export function loopCheck(ctx: ShardContext, loop: Loop, caller: Caller, raw: Buffer, now: number): LoopRefusal | undefined | Promise<LoopRefusal | undefined> {
  const fingerprint = createHash('sha256').update(caller.customer).update('\u0000').update(caller.agent ?? '').update('\u0000').update(raw).digest();
  const local = ctx.policyTables.loops.hit(fingerprint, loop.windowMs, now);
  if (local >= 2 && ctx.countLoopHit) {
    return ctx.countLoopHit(fingerprint.toString('hex'), loop.windowMs, now, local === 2 ? 2 : 1).then((global) => verdict(ctx, loop, caller, Math.max(local, global)));
  }
  return verdict(ctx, loop, caller, local);
}

function verdict(ctx: ShardContext, loop: Loop, caller: Caller, seen: number): LoopRefusal | undefined {
  if (seen <= loop.maxRepeats) return undefined;
  // Alert once per window, not on every repeat (the outbox de-duplicates across nodes).
  if (seen === loop.maxRepeats + 1) ctx.emit({ t: 'policy-event', kind: 'loop_detected', customer: caller.customer, agent: caller.agent, detail: `the same request was sent ${seen} times within ${loop.windowMs / 1000} s` });
  return {
    message: `loop detected: this exact request was sent more than ${loop.maxRepeats} times within ${loop.windowMs / 1000} s from the same scope; refused to stop a runaway loop`,
    retryAfter: String(Math.ceil(loop.windowMs / 1000)),
  };
}
