import { createHash } from 'node:crypto';
import type { Caller } from '../identity/key-directory.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import type { ShardContext } from './shard-context.js';

// Runaway-loop protection on the call path: the same body from the same
// scope more than `maxRepeats` times within the window is refused (and
// alerted once per window).

export interface LoopRefusal { message: string; retryAfter: string }

export function loopCheck(ctx: ShardContext, loop: NonNullable<ResolvedScope['loop']>, caller: Caller, raw: Buffer, now: number): LoopRefusal | undefined {
  const fingerprint = createHash('sha256').update(caller.customer).update('\u0000').update(caller.agent ?? '').update('\u0000').update(raw).digest();
  const seen = ctx.policyTables.loops.hit(fingerprint, loop.windowMs, now);
  if (seen <= loop.maxRepeats) return undefined;
  // Alert once per window, not on every repeat.
  if (seen === loop.maxRepeats + 1) ctx.emit({ t: 'policy-event', kind: 'loop_detected', customer: caller.customer, agent: caller.agent, detail: `the same request was sent ${seen} times within ${loop.windowMs / 1000} s` });
  return {
    message: `loop detected: this exact request was sent more than ${loop.maxRepeats} times within ${loop.windowMs / 1000} s from the same scope; refused to stop a runaway loop`,
    retryAfter: String(Math.ceil(loop.windowMs / 1000)),
  };
}
