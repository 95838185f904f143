import { describe, expect, it } from 'vitest';
import { BUCKET, SessionTable } from '../../src/budget/session-table.js';
import { sessionKey } from '../../src/budget/session-key.js';
import { chargeSession, releaseSessionHold, reserveSession, settleSessionHold, type SessionBudgetRef } from '../../src/budget/session-budgets.js';

const T = { ttlMs: 60_000, staleMs: 10_000 };
const NOW = 1_000_000;
const requests = (limit: number, index = 0): SessionBudgetRef => ({ index, kind: 'requests', unit: 'requests', rate: 1, limit, cap: BigInt(limit), source: 'customer' });
const tokens = (limit: number, index = 1): SessionBudgetRef => ({ index, kind: 'tokens', unit: 'tokens', rate: 1, limit, cap: BigInt(limit), source: 'plan' });
const call = (id: string, customer = 'acme') => ({ id, key: sessionKey(customer, id) });
const est = (t = 10) => ({ billedPico: 0, tokens: t, requests: 1 });

describe('session table', () => {
  it('admits calls up to the session cap and refuses the next, naming the session', () => {
    const t = SessionTable.create(64, 1);
    const refs = [requests(3)];
    for (let i = 0; i < 3; i++) {
      const v = reserveSession(t, refs, call('s1'), est(), NOW + i, T, 0);
      expect(v.ok).toBe(true);
      if (v.ok) settleSessionHold(v.hold!, est(), false, NOW + i);
    }
    const refused = reserveSession(t, refs, call('s1'), est(), NOW + 5, T, 0);
    expect(refused).toMatchObject({ ok: false, why: 'session_budget_exceeded', session: 's1', used: 3n, remaining: 0n, expiresAt: NOW + 5 + T.ttlMs });
    // Another session of the same customer, and the same id of another customer, are untouched.
    expect(reserveSession(t, refs, call('s2'), est(), NOW + 6, T, 0).ok).toBe(true);
    expect(reserveSession(t, refs, call('s1', 'beta'), est(), NOW + 6, T, 0).ok).toBe(true);
  });

  it('reserves on every session budget or on none', () => {
    const t = SessionTable.create(64, 2);
    const refs = [requests(10), tokens(25)];
    const first = reserveSession(t, refs, call('s'), est(20), NOW, T, 0);
    expect(first.ok).toBe(true);
    const second = reserveSession(t, refs, call('s'), est(20), NOW, T, 0);
    expect(second).toMatchObject({ ok: false, why: 'session_budget_exceeded', ref: { unit: 'tokens' } });
    const entry = (first as { hold: { entry: number } }).hold.entry;
    // The refused call's request hold went back; only the first call's holds remain.
    expect(t.read(entry, 0)).toEqual({ committed: 1n, spent: 0n });
    expect(t.read(entry, 1)).toEqual({ committed: 20n, spent: 0n });
    expect(t.pins(entry)).toBe(1);
  });

  it('replaces a hold with the actual amount on settle and returns it on release', () => {
    const t = SessionTable.create(64, 2);
    const refs = [requests(10), tokens(1000)];
    const a = reserveSession(t, refs, call('s'), est(100), NOW, T, 0);
    const b = reserveSession(t, refs, call('s'), est(100), NOW, T, 0);
    if (!a.ok || !b.ok) throw new Error('expected both admitted');
    settleSessionHold(a.hold!, est(40), false, NOW + 1);
    releaseSessionHold(b.hold!, NOW + 2);
    expect(t.read(a.hold!.entry, 1)).toEqual({ committed: 40n, spent: 40n });
    expect(t.read(a.hold!.entry, 0)).toEqual({ committed: 1n, spent: 1n });
    expect(t.pins(a.hold!.entry)).toBe(0);
    expect(t.lastUsed(a.hold!.entry)).toBe(NOW + 2);
  });

  it('starts a session over once it has been idle for the TTL', () => {
    const t = SessionTable.create(64, 1);
    const refs = [requests(1)];
    const v = reserveSession(t, refs, call('s'), est(), NOW, T, 0);
    if (!v.ok) throw new Error('expected admitted');
    settleSessionHold(v.hold!, est(), false, NOW);
    expect(reserveSession(t, refs, call('s'), est(), NOW + T.ttlMs, T, 0).ok).toBe(false);
    // The refused call above was a call too: the session lives TTL past it.
    expect(reserveSession(t, refs, call('s'), est(), NOW + 2 * T.ttlMs, T, 0).ok).toBe(false);
    expect(reserveSession(t, refs, call('s'), est(), NOW + 3 * T.ttlMs + 1, T, 0).ok).toBe(true);
  });

  it('refuses a new session when its buckets hold only live sessions, and reuses expired entries', () => {
    const t = SessionTable.create(BUCKET, 1); // one bucket: every key lands in it
    const refs = [requests(5)];
    for (let i = 0; i < BUCKET; i++) {
      const v = reserveSession(t, refs, call(`s${i}`), est(), NOW, T, 0);
      if (!v.ok) throw new Error(`session ${i} refused`);
      settleSessionHold(v.hold!, est(), false, NOW);
    }
    expect(reserveSession(t, refs, call('extra'), est(), NOW + 1, T, 0)).toEqual({ ok: false, why: 'session_limit_exceeded', capacity: BUCKET });
    expect(t.live(NOW + 1, T)).toBe(BUCKET);
    const later = NOW + T.ttlMs + 1;
    expect(t.live(later, T)).toBe(0);
    const v = reserveSession(t, refs, call('extra'), est(), later, T, 0);
    expect(v.ok).toBe(true);
    // The entry it took starts at zero, not at the old session's spend.
    expect(t.read((v as { hold: { entry: number } }).hold.entry, 0)).toEqual({ committed: 1n, spent: 0n });
  });

  it('never reuses an entry a call still holds, until its holds are a dead shard\'s', () => {
    const t = SessionTable.create(BUCKET, 1);
    const refs = [requests(5)];
    const held = reserveSession(t, refs, call('held'), est(), NOW, T, 1); // never settled: shard 1 "died"
    if (!held.ok) throw new Error('expected admitted');
    for (let i = 0; i < BUCKET - 1; i++) expect(reserveSession(t, refs, call(`s${i}`), est(), NOW, T, 0).ok).toBe(true);
    for (let i = 0; i < BUCKET - 1; i++) {
      // Release the others: only `held` stays pinned.
      const e = t.acquire(sessionKey('acme', `s${i}`), NOW, T, 0);
      t.unpin(e, NOW);
      t.unpin(e, NOW);
    }
    const afterTtl = NOW + T.ttlMs + 1;
    for (let i = 0; i < BUCKET - 1; i++) expect(reserveSession(t, refs, call(`n${i}`), est(), afterTtl, T, 0).ok).toBe(true);
    expect(reserveSession(t, refs, call('last'), est(), afterTtl, T, 0)).toMatchObject({ ok: false, why: 'session_limit_exceeded' });
    expect(reserveSession(t, refs, call('last'), est(), NOW + T.ttlMs + T.staleMs + 1, T, 0).ok).toBe(true);
  });

  it('charges a late settle only while the entry still belongs to the session', () => {
    const t = SessionTable.create(BUCKET, 1);
    const refs = [requests(5)];
    const v = reserveSession(t, refs, call('old'), est(), NOW, T, 0);
    if (!v.ok) throw new Error('expected admitted');
    releaseSessionHold(v.hold!, NOW); // the hold expired (reservation TTL)
    settleSessionHold(v.hold!, est(), true, NOW + 1); // late answer: charged in full
    expect(t.read(v.hold!.entry, 0)).toEqual({ committed: 1n, spent: 1n });
    for (let i = 0; i < BUCKET; i++) reserveSession(t, refs, call(`new${i}`), est(), NOW + 2 * T.ttlMs, T, 0);
    settleSessionHold(v.hold!, est(), true, NOW + 2 * T.ttlMs); // even later: the entry is another session's now
    const spent = Array.from({ length: BUCKET }, (_, e) => t.read(e, 0).spent).reduce((s, x) => s + x, 0n);
    expect(spent).toBe(0n);
  });

  it('counts an unreserved event against the session, past the cap if it must', () => {
    const t = SessionTable.create(64, 1);
    const refs = [tokens(50, 0)];
    expect(chargeSession(t, refs, call('s'), est(80), NOW, T, 0)).toBe(true);
    expect(reserveSession(t, refs, call('s'), est(1), NOW, T, 0)).toMatchObject({ ok: false, used: 80n, remaining: 0n });
  });

  it('holds 40.25 bytes per session with one session budget', () => {
    expect(SessionTable.bytes(1_000_000, 1)).toBe(40_250_000);
    expect(SessionTable.bytes(1_000_000, 3)).toBe(72_250_000);
  });

  it('gives one entry per session and never overshoots when two threads race on the same sessions', async () => {
    const { Worker } = await import('node:worker_threads');
    const t = SessionTable.create(4096, 1);
    const tableModule = new URL('../../dist/budget/session-table.js', import.meta.url).href;
    const keyModule = new URL('../../dist/budget/session-key.js', import.meta.url).href;
    // Both threads open the same 600 sessions in the same order, then reserve 1 on each, 30 times, against a cap of 45.
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      Promise.all([import(workerData.tableModule), import(workerData.keyModule)]).then(([{ SessionTable }, { sessionKey }]) => {
        const t = new SessionTable(workerData.sab, workerData.capacity, 1);
        const T = { ttlMs: 60000, staleMs: 10000 };
        const keys = Array.from({ length: 600 }, (_, i) => sessionKey('acme', 's' + i));
        let ok = 0;
        const entries = [];
        for (let round = 0; round < 30; round++) {
          for (let i = 0; i < keys.length; i++) {
            const e = t.acquire(keys[i], 1000000, T, workerData.shard);
            if (round === 0) entries.push(e);
            if (t.tryReserve(e, 0, 1n, 45n)) ok++;
            t.unpin(e, 1000000);
          }
        }
        parentPort.postMessage({ ok, entries });
      });
    `;
    const results = await Promise.all([0, 1].map((shard) => new Promise<{ ok: number; entries: number[] }>((resolve, reject) => {
      const w = new Worker(src, { eval: true, workerData: { sab: t.sab, capacity: t.capacity, shard, tableModule, keyModule } });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    expect(results[0]!.entries).toEqual(results[1]!.entries);
    expect(new Set(results[0]!.entries).size).toBe(600);
    expect(results[0]!.ok + results[1]!.ok).toBe(600 * 45);
    for (const e of results[0]!.entries) {
      expect(t.read(e, 0).committed).toBe(45n);
      expect(t.pins(e)).toBe(0);
    }
  });
});
