import { describe, expect, it } from 'vitest';
import { parseCall } from '../../src/protocols/call.ts';
import { DEFAULT_RETRY, RetryPolicy } from '../../src/routing/retry-policy.ts';
import type { RoutedPlan, Target } from '../../src/routing/route-table.ts';
import { TargetHealth } from '../../src/routing/target-health.ts';
import { tryTargets, type AttemptControl, type AttemptDeps, type UpstreamCall } from '../../src/proxy/upstream-attempts.ts';

// The fallback loop with a fake dispatch and a fake clock: no sockets.

type Script = { status: number; body?: string; headers?: Record<string, string> } | { error: string } | { hang: true };

function fakeCall(s: Script): UpstreamCall & { aborted?: Error } {
  let abortHead: (e: Error) => void = () => {};
  const c: UpstreamCall & { aborted?: Error } = {
    head: 'error' in s
      ? Promise.reject(Object.assign(new Error(s.error), { code: s.error }))
      : 'hang' in s
        ? new Promise((_, reject) => (abortHead = reject))
        : Promise.resolve({ status: s.status, contentType: 'application/json', retryAfter: s.headers?.['retry-after'] }),
    readAll: async () => Buffer.from('status' in s ? s.body ?? '{}' : ''),
    next: async () => null,
    abort: (e) => {
      c.aborted = e;
      abortHead(e);
    },
  };
  c.head.catch(() => {});
  return c;
}

function target(id: string, priority = 0): Target {
  const [provider, model] = id.split('/') as [string, string];
  return {
    id, model, weight: 1, priority,
    provider: { name: provider, type: 'openai', baseUrl: 'http://unused/v1', apiKey: 'k', headers: {} } as any,
    breaker: { failures: 2, cooldownMs: 30_000 },
    timeouts: { firstByte: 1000, total: 5000 },
  };
}

function setup(scripts: Record<string, Script[]>, opts: { now?: number } = {}) {
  let clock = opts.now ?? 1_000_000;
  const sent: string[] = [];
  const calls: (UpstreamCall & { aborted?: Error })[] = [];
  const deps: AttemptDeps = {
    health: new TargetHealth(),
    now: () => clock,
    elapsed: () => clock,
    defaultMaxTokens: () => 1024,
    dispatch: (t) => {
      sent.push(t.id);
      const c = fakeCall(scripts[t.id]!.shift()!);
      calls.push(c);
      return c;
    },
  };
  const deadlines: number[] = [];
  const control: AttemptControl = {
    up: undefined, cancelled: undefined, h: { anthropicVersion: '', anthropicBeta: '', accept: '' },
    clientGone: () => false, setDeadline: (at) => void deadlines.push(at),
  };
  return { deps, control, sent, calls, deadlines, advance: (ms: number) => (clock += ms) };
}

const call = parseCall('chat', { model: 'smart', messages: [{ role: 'user', content: 'hi' }] });
const plan = (targets: Target[], retry = DEFAULT_RETRY): RoutedPlan => ({ ok: true, logical: 'smart', targets, skipped: [], retry: new RetryPolicy(retry) });

describe('the fallback loop', () => {
  it('answers from the first target that succeeds and records the failures before it', async () => {
    const s = setup({ 'a/m': [{ status: 503 }], 'b/m': [{ error: 'ECONNREFUSED' }], 'c/m': [{ status: 200, body: '{"ok":1}' }] });
    const r = await tryTargets(s.deps, call, plan([target('a/m'), target('b/m'), target('c/m')]), undefined, s.control);
    expect(r.kind).toBe('answer');
    if (r.kind !== 'answer') return;
    expect(r.answer.target.id).toBe('c/m');
    expect(r.answer.body!.toString()).toBe('{"ok":1}');
    expect(r.attempts).toEqual([{ target: 'a/m', error: 'HTTP 503' }, { target: 'b/m', error: 'ECONNREFUSED' }]);
    expect(s.sent).toEqual(['a/m', 'b/m', 'c/m']);
  });

  it('stops after maxAttempts and returns the last error answer as written', async () => {
    const s = setup({ 'a/m': [{ status: 500, body: 'first' }], 'b/m': [{ status: 502, body: 'second' }], 'c/m': [{ status: 200 }] });
    const r = await tryTargets(s.deps, call, plan([target('a/m'), target('b/m'), target('c/m')], { maxAttempts: 2, on: DEFAULT_RETRY.on }), undefined, s.control);
    expect(s.sent).toEqual(['a/m', 'b/m']);
    expect(r.kind).toBe('answer');
    if (r.kind === 'answer') expect([r.answer.head.status, r.answer.body!.toString()]).toEqual([502, 'second']);
  });

  it('does not retry a status the policy does not name: a 400 goes back at once', async () => {
    const s = setup({ 'a/m': [{ status: 400, body: 'bad' }], 'b/m': [{ status: 200 }] });
    const r = await tryTargets(s.deps, call, plan([target('a/m'), target('b/m')]), undefined, s.control);
    expect(s.sent).toEqual(['a/m']);
    expect(r.kind === 'answer' && r.answer.head.status).toBe(400);
  });

  it('gives every attempt its own total-time deadline from the injected clock', async () => {
    const s = setup({ 'a/m': [{ status: 503 }], 'b/m': [{ status: 200 }] }, { now: 50_000 });
    const slow = { ...target('b/m'), timeouts: { firstByte: 1000, total: 9000 } };
    await tryTargets(s.deps, call, plan([target('a/m'), slow]), undefined, s.control);
    expect(s.deadlines).toEqual([55_000, 59_000]);
  });

  it('skips a target whose breaker is open, and answers 503 with retry-after when nothing could be tried', async () => {
    const s = setup({ 'a/m': [{ status: 500 }, { status: 500 }] });
    const p = plan([target('a/m')], { maxAttempts: 1, on: DEFAULT_RETRY.on });
    await tryTargets(s.deps, call, p, undefined, s.control);
    await tryTargets(s.deps, call, p, undefined, s.control); // second consecutive failure opens the breaker (failures: 2)
    s.advance(10_000);
    const r = await tryTargets(s.deps, call, p, undefined, s.control);
    expect(s.sent).toEqual(['a/m', 'a/m']);
    expect(r).toMatchObject({ kind: 'none', type: 'overloaded_error', retryAfterSec: 20 });
  });

  it('reports upstream_timeout when every attempt timed out', async () => {
    const s = setup({ 'a/m': [{ error: 'UND_ERR_HEADERS_TIMEOUT' }], 'b/m': [{ error: 'UND_ERR_HEADERS_TIMEOUT' }] });
    const r = await tryTargets(s.deps, call, plan([target('a/m'), target('b/m')]), undefined, s.control);
    expect(r).toMatchObject({ kind: 'none', type: 'upstream_timeout' });
  });

  it('stops trying further targets once the call is cancelled', async () => {
    const s = setup({ 'a/m': [{ hang: true }], 'b/m': [{ status: 200 }] });
    const p = tryTargets(s.deps, call, plan([target('a/m'), target('b/m')]), undefined, s.control);
    await Promise.resolve();
    const reason = Object.assign(new Error('upstream total timeout'), { code: 'TG_CANCELLED' });
    s.control.cancelled = reason;
    s.control.up!.abort(reason);
    const r = await p;
    expect(s.sent).toEqual(['a/m']);
    expect(r).toMatchObject({ kind: 'none', type: 'upstream_timeout' });
  });
});
