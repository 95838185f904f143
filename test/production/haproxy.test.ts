import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/temp-dir.js';
import { rawRequest } from './raw-http.js';
import { findBinary, freePort } from '../helpers/local-servers.js';

// The shipped deploy/haproxy.cfg against a real HAProxy (Debian's haproxy)
// and two real Tollgate replicas: its health checks must mark the replicas
// UP (Tollgate answers only HTTP/1.1 with a Host header), calls through it
// are served, and identity headers with bytes Tollgate's parser would strip
// are refused at the balancer. Under CI=true a missing haproxy fails.

const HAPROXY = findBinary('haproxy');

const SHIPPED = fileURLToPath(new URL('../../deploy/haproxy.cfg', import.meta.url));


/** The shipped config with test addresses: only the bind, the server addresses, a stats socket and maxconn (within this machine's file limit) change. */
function adapt(cfg: string, lbPort: number, replicas: number[], socket: string): string {
  let out = cfg.replace(/^(\s*)bind :8080[ \t]*$/m, `$1bind 127.0.0.1:${lbPort}`);
  out = out.replace(/^(\s*)server tollgate-(\d) tollgate-\d:8080 check[ \t]*$/gm, (_, sp: string, n: string) => `${sp}server tollgate-${n} 127.0.0.1:${replicas[Number(n) - 1]} check`);
  out = out.replace(/^global[ \t]*$/m, `global\n    stats socket ${socket} mode 600 level admin`);
  out = out.replace(/^(\s*)maxconn \d+[ \t]*$/m, '$1maxconn 1000');
  expect(out).toContain(`127.0.0.1:${replicas[1]}`);
  return out;
}

/** Sends `data` on one connection and reads `count` answers (content-length framed), in order. */
function pipelined(port: number, data: string, count: number): Promise<{ status: number; requestId: string }[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => (sock.destroy(), reject(new Error(`timed out; got ${buf.toString('latin1').slice(0, 500)}`))), 10_000);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const out: { status: number; requestId: string }[] = [];
      let at = 0;
      while (out.length < count) {
        const sep = buf.indexOf('\r\n\r\n', at);
        if (sep < 0) return;
        const head = buf.subarray(at, sep).toString('latin1');
        const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < sep + 4 + len) return;
        out.push({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]), requestId: /x-tollgate-request-id: (\S+)/i.exec(head)?.[1] ?? '' });
        at = sep + 4 + len;
      }
      clearTimeout(timer);
      sock.destroy();
      resolve(out);
    });
    sock.on('error', reject);
    sock.write(data);
  });
}

function showStat(socket: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(''));
    s.end('show stat\n');
  });
}

/** Status and last check result of each tollgate server (`show stat`), e.g. "UP L7OK". */
async function serverStates(socket: string): Promise<Record<string, string>> {
  const text = await showStat(socket);
  const lines = text.split('\n');
  const head = (lines[0] ?? '').replace(/^# /, '').split(',');
  const col = head.indexOf('status');
  const check = head.indexOf('check_status');
  const states: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[0] === 'tollgate' && f[1]?.startsWith('tollgate-')) states[f[1]] = `${f[col]} ${f[check]}`;
  }
  return states;
}

const suite = HAPROXY ? describe : process.env.CI === 'true' ? describe : describe.skip;
if (!HAPROXY && process.env.CI !== 'true') console.warn('skipping the HAProxy suite: haproxy not found (apt-get install haproxy)');

suite('the shipped HAProxy config', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  const replicas: Tollgate[] = [];
  let lb: ChildProcess | undefined;
  let lbPort = 0;
  let socket = '';
  let lbLog = '';

  beforeAll(async () => {
    if (!HAPROXY) throw new Error('haproxy not found (apt-get install haproxy); CI requires these tests to run');
    mock = await startMockUpstream({ completionTokens: 4 });
    const config = { providers: providers(mock.url), customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }] };
    replicas.push(await startTollgate(config, { clockStart: TEST_CLOCK, shards: 1 }), await startTollgate(config, { clockStart: TEST_CLOCK, shards: 1 }));
    const dir = tempDir('tollgate-haproxy-');
    socket = join(dir, 'stats.sock');
    lbPort = await freePort();
    const cfgFile = join(dir, 'haproxy.cfg');
    writeFileSync(cfgFile, adapt(readFileSync(SHIPPED, 'utf8'), lbPort, replicas.map((r) => r.port), socket));
    lb = spawn(HAPROXY, ['-db', '-f', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    lb.stdout!.on('data', (d) => (lbLog += d));
    lb.stderr!.on('data', (d) => (lbLog += d));
  }, 30_000);

  afterAll(async () => {
    lb?.kill('SIGTERM');
    for (const r of replicas) await r.stop();
    await mock?.close();
  });

  it('marks both replicas UP through its HTTP/1.1 health check', async () => {
    // Servers start UP before their first check: wait for a completed check
    // (L7OK) on both. A check Tollgate cannot answer times out (L7TOUT) and,
    // with fall 1, marks the server DOWN.
    let states: Record<string, string> = {};
    for (let i = 0; i < 40; i++) {
      states = await serverStates(socket);
      if (Object.values(states).filter((s) => / L7OK$/.test(s)).length === 2) break;
      if (Object.values(states).some((s) => s.startsWith('DOWN'))) break;
      await sleep(250);
    }
    expect(states, lbLog).toEqual({ 'tollgate-1': 'UP L7OK', 'tollgate-2': 'UP L7OK' });
  }, 15_000);

  it('serves health checks and model calls through the balancer', async () => {
    const health = await fetch(`http://127.0.0.1:${lbPort}/healthz`);
    expect(health.status).toBe(200);
    await health.text();
    const r = await fetch(`http://127.0.0.1:${lbPort}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-tollgate-request-id')).toMatch(/^req_/);
    await r.json();
  });

  it('answers an HTTP/1.0 client at once with 505, and serves an HTTP/1.1 request without Host', async () => {
    const old = await rawRequest(lbPort, ['GET /healthz HTTP/1.0\r\n\r\n'], { timeoutMs: 5_000 });
    expect(old.head).toMatch(/^HTTP\/1\.[01] 505/);
    expect(old.body).toContain('HTTP/1.1');
    const hostless = await rawRequest(lbPort, ['GET /healthz HTTP/1.1\r\nconnection: close\r\n\r\n'], { timeoutMs: 5_000 });
    expect(hostless.status).toBe(200);
  });

  it('answers two pipelined POSTs in order (Tollgate alone closes such a connection)', async () => {
    const body = (n: number) => JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 4, messages: [{ role: 'user', content: `call ${n}` }] });
    const post = (n: number) => `POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${CUSTOMER_KEY}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body(n))}\r\n\r\n${body(n)}`;
    const answers = await pipelined(lbPort, post(1) + post(2), 2);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(answers[0]!.requestId).not.toBe(answers[1]!.requestId);
  });

  it('answers 431 to header blocks beyond what Tollgate parses, instead of a closed connection', async () => {
    const many = Array.from({ length: 80 }, (_, i) => `x-h${i}: a\r\n`).join('');
    const r1 = await rawRequest(lbPort, [`GET /healthz HTTP/1.1\r\nhost: t\r\n${many}\r\n`], { untilAnswer: true, timeoutMs: 5_000 });
    expect(r1.status).toBe(431);
    const r2 = await rawRequest(lbPort, [`GET /healthz HTTP/1.1\r\nhost: t\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`], { untilAnswer: true, timeoutMs: 5_000 });
    expect(r2.status).toBe(431);
  });

  it('refuses identity headers carrying bytes outside visible ASCII at the balancer', async () => {
    const head = Buffer.concat([
      Buffer.from(`GET /v1/models HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${CUSTOMER_KEY}\r\nx-tollgate-customer: acm`),
      Buffer.from([0xc3, 0xa9]),
      Buffer.from('\r\n\r\n'),
    ]);
    const r = await rawRequest(lbPort, [head], { untilAnswer: false, timeoutMs: 5_000 });
    expect(r.status).toBe(400);
  });
});
