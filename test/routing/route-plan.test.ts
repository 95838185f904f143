import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { RouteTable } from '../../src/routing/route-table.js';

const NOW = 1_000_000;

function table(routes: unknown[], extra: Record<string, unknown> = {}) {
  return new RouteTable(parseConfig({
    providers: [
      { name: 'oa', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' },
      { name: 'ob', type: 'openai', baseUrl: 'http://127.0.0.1:2/v1' },
      { name: 'an', type: 'anthropic', baseUrl: 'http://127.0.0.1:3', models: ['claude-*'] },
    ],
    routes,
    ...extra,
  }, {}));
}

function firsts(t: RouteTable, model: string, n: number, now = NOW) {
  const count: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const p = t.plan(model, 'chat', now);
    if (!p.ok) throw new Error(p.message);
    const id = p.targets[0]!.id;
    count[id] = (count[id] ?? 0) + 1;
  }
  return count;
}

describe('route plans', () => {
  it('spreads first picks 3:1 exactly over every 4 calls (smooth weighted round-robin)', () => {
    const t = table([{ model: 'm', targets: [{ provider: 'oa', model: 'x', weight: 3 }, { provider: 'ob', model: 'x', weight: 1 }] }]);
    expect(firsts(t, 'm', 400)).toEqual({ 'oa/x': 300, 'ob/x': 100 });
    const seq = Array.from({ length: 8 }, () => (t.plan('m', 'chat', NOW) as any).targets[0].provider.name);
    expect(seq.filter((s) => s === 'ob')).toHaveLength(2);
  });

  it('lists the rest of the tier, then the next tier, as fallbacks', () => {
    const t = table([{ model: 'm', targets: [
      { provider: 'oa', model: 'x', weight: 1 },
      { provider: 'ob', model: 'x', weight: 5 },
      { provider: 'an', model: 'claude-haiku-4-5', priority: 1 },
    ] }]);
    const p = t.plan('m', 'chat', NOW);
    if (!p.ok) throw new Error();
    expect(p.targets.map((x) => x.id)).toEqual(['ob/x', 'oa/x', 'an/claude-haiku-4-5']);
    expect(p.retry.maxAttempts).toBe(3);
  });

  it('leaves a target that is cooling down out of the plan and reports it as skipped', () => {
    const t = table([{ model: 'm', targets: [
      { provider: 'oa', model: 'x', breaker: { failures: 1, cooldown: '10s' } },
      { provider: 'ob', model: 'x', priority: 1 },
    ] }]);
    const a = (t.plan('m', 'chat', NOW) as any).targets[0];
    t.health.failed(a, false, NOW, 'HTTP 500');
    const p = t.plan('m', 'chat', NOW + 1);
    if (!p.ok) throw new Error();
    expect(p.targets.map((x) => x.id)).toEqual(['ob/x']);
    expect(p.skipped.map((s) => [s.target.id, s.until])).toEqual([['oa/x', NOW + 10_000]]);
  });

  it('puts a target whose cooldown ended first in its tier, so the call probes it with the tier behind it', () => {
    const t = table([{ model: 'm', targets: [
      { provider: 'oa', model: 'x', weight: 1, breaker: { failures: 1, cooldown: '1s' } },
      { provider: 'ob', model: 'x', weight: 9 },
    ] }]);
    const a = (t.plan('m', 'chat', NOW) as any).targets.find((x: any) => x.id === 'oa/x');
    t.health.failed(a, false, NOW, 'reset');
    const p = t.plan('m', 'chat', NOW + 1000);
    if (!p.ok) throw new Error();
    expect(p.targets.map((x) => x.id)).toEqual(['oa/x', 'ob/x']);
    expect(t.health.admit(p.targets[0]!, NOW + 1000)).toEqual({ go: true, probe: true });
    // While the probe is out the target is skipped by everyone else.
    const q = t.plan('m', 'chat', NOW + 1001);
    if (!q.ok) throw new Error();
    expect(q.targets.map((x) => x.id)).toEqual(['ob/x']);
  });

  it('serves chat and messages across protocols, but responses only on OpenAI targets', () => {
    const t = table([{ model: 'c', targets: [{ provider: 'an', model: 'claude-haiku-4-5' }] }]);
    expect(t.plan('c', 'chat', NOW).ok).toBe(true);
    expect(t.plan('c', 'messages', NOW).ok).toBe(true);
    const r = t.plan('c', 'responses', NOW);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(/no target that can serve \/v1\/responses/);
  });

  it('sends an unrouted model to the provider whose models glob claims it, across protocols', () => {
    const t = table([]);
    const p = t.plan('claude-sonnet-4-5', 'chat', NOW);
    if (!p.ok) throw new Error();
    expect(p.targets[0]!.provider.name).toBe('an');
    const q = t.plan('gpt-4o', 'chat', NOW);
    if (!q.ok) throw new Error();
    expect(q.targets[0]!.provider.name).toBe('oa');
  });

  it('takes the route retry settings over the global ones', () => {
    const t = table([{ model: 'm', targets: [{ provider: 'oa', model: 'x' }], retry: { maxAttempts: 1 } }], { retry: { maxAttempts: 4, on: [503] } });
    const p = t.plan('m', 'chat', NOW);
    if (!p.ok) throw new Error();
    expect(p.retry.maxAttempts).toBe(1);
    expect(p.retry.retriesStatus(503)).toBe(true);
    expect(p.retry.retriesStatus(500)).toBe(false);
  });

  it('keeps breaker state of a target across a reload, and forgets removed targets', () => {
    const cfg = (targets: unknown[]) => parseConfig({
      providers: [{ name: 'oa', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' }, { name: 'ob', type: 'openai', baseUrl: 'http://127.0.0.1:2/v1' }],
      routes: [{ model: 'm', targets }],
    }, {});
    const t = new RouteTable(cfg([{ provider: 'oa', model: 'x', breaker: { failures: 1, cooldown: '5s' } }, { provider: 'ob', model: 'x', priority: 1 }]));
    t.health.failed((t.plan('m', 'chat', NOW) as any).targets[0], false, NOW, 'HTTP 503');
    t.replace(cfg([{ provider: 'oa', model: 'x', breaker: { failures: 1, cooldown: '5s' } }, { provider: 'ob', model: 'y', priority: 1 }]));
    const p = t.plan('m', 'chat', NOW + 1);
    if (!p.ok) throw new Error();
    expect(p.targets.map((x) => x.id)).toEqual(['ob/y']);
    expect(t.health.snapshot(NOW).map((s) => s.target).sort()).toEqual(['oa/x', 'ob/y']);
  });
});
