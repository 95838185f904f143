import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Agent, Client, request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

// SIGTERM while hundreds of calls are in flight, half of them streaming:
// readiness flips at once, no new connection is accepted, every call
// finishes whole and is in the ledger, and the process exits 0.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 20, latencyMs: 1500, chunkDelayMs: 40 });
});
afterAll(async () => {
  await mock?.close();
});

const customers = [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }];

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(20);
  }
  return cond();
}

function tcpConnect(port: number): Promise<'connected' | string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function ledgerIds(configFile: string, dataDir: string): Promise<Set<string>> {
  const again = await launch(configFile, dataDir);
  const signal = new Promise<string | null>((r) => again.proc.once('exit', (_c, sig) => r(sig)));
  try {
    const { rows } = await again.admin('/admin/usage?customer=acme&limit=100000');
    return new Set(rows.map((r: { request_id: string }) => r.request_id));
  } finally {
    const code = await again.stop();
    // Once seen as null (ended by a signal) on a loaded machine and not reproduced since: say which, with the logs.
    if (code !== 0) console.log(`relaunched proxy exited ${code} (signal ${await signal}):\n${again.logs()}`);
    expect(code).toBe(0);
  }
}

describe('SIGTERM under load', () => {
  it('completes 300 in-flight calls (150 streaming) with 0 client errors, records every one, and exits 0', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate({ providers: providers(mock.url), customers, shutdownGrace: '30s' }, { clockStart: TEST_CLOCK });
    const N = 300;
    const agent = new Agent({ connections: N + 10 });
    const probe = new Client(tg.url); // a keep-alive connection opened before SIGTERM
    expect((await probe.request({ path: '/readyz', method: 'GET' }).then(async (r) => { await r.body.text(); return r.statusCode; }))).toBe(200);

    const results = Array.from({ length: N }, async (_, i) => {
      const stream = i % 2 === 0;
      try {
        const r = await request(`${tg.url}/v1/chat/completions`, {
          method: 'POST',
          dispatcher: agent,
          headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `drain call ${i}` }], stream }),
        });
        const text = await r.body.text();
        const complete = stream ? text.includes('data: [DONE]') && !text.includes('"error"') : JSON.parse(text).choices?.[0]?.message?.content?.includes('tok19');
        return { id: r.headers['x-tollgate-request-id'] as string, status: r.statusCode, complete: !!complete, error: null as string | null };
      } catch (err) {
        return { id: '', status: 0, complete: false, error: String(err) };
      }
    });

    // Every call is waiting on the upstream before the signal.
    expect(await waitFor(() => mock.stats().inFlight === N, 20_000)).toBe(true);
    const t0 = Date.now();
    const exit = tg.stop();
    await sleep(150);
    const readyz = await probe.request({ path: '/readyz', method: 'GET' }).then(async (r) => { await r.body.text(); return r.statusCode; }, () => 'closed');
    expect(readyz).toBe(503);
    expect(await tcpConnect(tg.port)).toBe('ECONNREFUSED');

    const done = await Promise.all(results);
    const code = await exit;
    const drainMs = Date.now() - t0;
    await probe.close().catch(() => {});
    await agent.close();
    if (code !== 0) console.log(tg.logs());

    const failed = done.filter((r) => r.status !== 200 || !r.complete);
    console.log(`drain: ${N} calls in flight (${N / 2} streaming), ${failed.length} client errors, exit ${code} after ${drainMs} ms`);
    expect(failed).toEqual([]);
    expect(code).toBe(0);

    const recorded = await ledgerIds(tg.configFile, tg.dataDir);
    const missing = done.map((r) => r.id).filter((id) => !recorded.has(id));
    expect(missing).toEqual([]);
  });

  it('after the grace period cancels what is left, records it, and still exits 0', async () => {
    mock.setBehavior({ latencyMs: 30_000 });
    try {
      const tg = await startTollgate({ providers: providers(mock.url), customers, shutdownGrace: '1s' }, { clockStart: TEST_CLOCK });
      const N = 20;
      const calls = Array.from({ length: N }, async (_, i) => {
        const r = await request(`${tg.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `slow ${i}` }], stream: i % 2 === 0 }),
        });
        return { id: r.headers['x-tollgate-request-id'] as string, status: r.statusCode, body: await r.body.text() };
      });
      expect(await waitFor(() => mock.stats().inFlight >= N, 10_000)).toBe(true);
      const signal = new Promise<string | null>((r) => tg.proc.once('exit', (_c, sig) => r(sig)));
      const t0 = Date.now();
      const code = await tg.stop();
      const took = Date.now() - t0;
      const done = await Promise.all(calls);
      if (code !== 0) console.log(`proxy exited ${code} (signal ${await signal}):\n${tg.logs()}`);
      expect(code).toBe(0);
      // The upstream would answer only after 30 s, so exiting well before that proves the
      // grace period cancelled the calls. The 10 s past the 1 s grace covers writing the
      // cancelled rows and closing the ledger on a loaded 2-core machine (seen at ~6 s);
      // a shutdown that waited on the upstream would take 30 s.
      expect(took).toBeLessThan(1000 + 10_000);
      // No upstream head arrived before the cancel: a clear 504 in the OpenAI error shape.
      for (const d of done) {
        expect(d.status).toBe(504);
        expect(JSON.parse(d.body).error.message).toMatch(/grace period/);
      }
      const recorded = await ledgerIds(tg.configFile, tg.dataDir);
      expect(done.map((d) => d.id).filter((id) => !recorded.has(id))).toEqual([]);
    } finally {
      mock.setBehavior({ latencyMs: 1500 });
    }
  });
});
