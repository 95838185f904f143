import { describe, expect, it } from 'vitest';
import { RpcClosed, RpcTimeout, ThreadRpc } from '../../src/server/thread-rpc.js';
import { ScopeResolver } from '../../src/server/scope-resolver.js';
import type { ShardToMain } from '../../src/server/messages.js';

// The one request/reply helper between threads, and the scope resolver on
// top of it: every wait ends (answer, timeout or close), a late answer is
// dropped, and shutdown cancels a call waiting on the supervisor.

type Msg = { t: 'ask'; id: number; q: string };

describe('ThreadRpc', () => {
  it('resolves a request with the reply of its id', async () => {
    const sent: Msg[] = [];
    const rpc = new ThreadRpc<Msg>((m) => sent.push(m));
    const a = rpc.request<string>((id) => ({ t: 'ask', id, q: 'a' }), { timeoutMs: 5_000, what: 'peer' });
    const b = rpc.request<string>((id) => ({ t: 'ask', id, q: 'b' }), { timeoutMs: 5_000, what: 'peer' });
    expect(sent.map((m) => m.q)).toEqual(['a', 'b']);
    expect(rpc.reply(sent[1]!.id, 'B')).toBe(true);
    expect(rpc.reply(sent[0]!.id, 'A')).toBe(true);
    expect(await Promise.all([a, b])).toEqual(['A', 'B']);
    expect(rpc.pending).toBe(0);
  });

  it('rejects a request nobody answers in time, naming who did not answer, and drops the late reply', async () => {
    const sent: Msg[] = [];
    const rpc = new ThreadRpc<Msg>((m) => sent.push(m));
    const p = rpc.request((id) => ({ t: 'ask', id, q: 'x' }), { timeoutMs: 20, what: 'the supervisor (test)' });
    await expect(p).rejects.toThrow(RpcTimeout);
    await expect(p).rejects.toThrow(/the supervisor \(test\) did not answer within 20 ms/);
    expect(rpc.pending).toBe(0);
    expect(rpc.reply(sent[0]!.id, 'late')).toBe(false);
  });

  it('uses the caller\'s error type for timeouts when asked', async () => {
    class Mine extends Error {}
    const rpc = new ThreadRpc<Msg>(() => {});
    await expect(rpc.request((id) => ({ t: 'ask', id, q: 'x' }), { timeoutMs: 10, what: 'shard 1', onTimeout: (m) => new Mine(m) })).rejects.toThrow(Mine);
  });

  it('rejects everything pending on close, and refuses new requests after it', async () => {
    const rpc = new ThreadRpc<Msg>(() => {});
    const p = rpc.request((id) => ({ t: 'ask', id, q: 'x' }), { timeoutMs: 60_000, what: 'peer' });
    rpc.close('the proxy is shutting down');
    await expect(p).rejects.toThrow(RpcClosed);
    await expect(p).rejects.toThrow(/shutting down/);
    await expect(rpc.request((id) => ({ t: 'ask', id, q: 'y' }), { timeoutMs: 60_000, what: 'peer' })).rejects.toThrow(RpcClosed);
    expect(rpc.pending).toBe(0);
  });

  it('rejects a request whose message cannot be sent', async () => {
    const rpc = new ThreadRpc<Msg>(() => {
      throw new Error('port closed');
    });
    await expect(rpc.request((id) => ({ t: 'ask', id, q: 'x' }), { timeoutMs: 60_000, what: 'peer' })).rejects.toThrow('port closed');
    expect(rpc.pending).toBe(0);
  });
});

describe('ScopeResolver', () => {
  it('cancels a call waiting on scope resolution when the shard shuts down', async () => {
    const sent: ShardToMain[] = [];
    const rpc = new ThreadRpc<ShardToMain>((m) => sent.push(m));
    const scopes = new ScopeResolver(rpc, undefined, 60_000);
    const waiting = scopes.get('acme', 'bot');
    expect(waiting).toBeInstanceOf(Promise);
    rpc.close('the proxy is shutting down');
    await expect(waiting).rejects.toThrow(/shutting down/);
    scopes.close();
  });

  it('gives up on a supervisor that does not answer, and asks again on the next call', async () => {
    const sent: ShardToMain[] = [];
    const rpc = new ThreadRpc<ShardToMain>((m) => sent.push(m));
    const scopes = new ScopeResolver(rpc, undefined, 20);
    await expect(scopes.get('acme', null)).rejects.toThrow(/scope resolution .* did not answer/);
    const again = scopes.get('acme', null);
    expect(sent).toHaveLength(2);
    const id = (sent[1] as { id: number }).id;
    rpc.reply(id, { t: 'resolved', id, scope: { refs: [], rates: [], loop: null, refusal: { mode: 'error' }, clampMaxTokens: false, resale: { markup: 1 } } });
    await expect(again).resolves.toMatchObject({ refs: [] });
    expect(scopes.get('acme', null)).not.toBeInstanceOf(Promise); // cached
    scopes.close();
  });

  it('drops a cached dynamic scope once the supervisor moves its generation', async () => {
    const gensSab = new SharedArrayBuffer(16);
    const gens = new Int32Array(gensSab);
    const sent: ShardToMain[] = [];
    const rpc = new ThreadRpc<ShardToMain>((m) => sent.push(m));
    const scopes = new ScopeResolver(rpc, gensSab, 60_000);
    const answer = (i: number) => {
      const id = (sent[i] as { id: number }).id;
      rpc.reply(id, { t: 'resolved', id, scope: { refs: [], rates: [], loop: null, refusal: { mode: 'error' }, clampMaxTokens: false, resale: { markup: 1 } }, handle: { index: 2, gen: gens[2] } });
    };
    const first = scopes.get('acme', 'bot');
    answer(0);
    await first;
    expect(scopes.get('acme', 'bot')).not.toBeInstanceOf(Promise);
    Atomics.add(gens, 2, 1);
    expect(scopes.get('acme', 'bot')).toBeInstanceOf(Promise); // stale: resolved again
    expect(sent).toHaveLength(2);
    scopes.close();
  });
});
