import { spawn, type ChildProcess } from 'node:child_process';
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

// The example deploy/nginx.conf against a real nginx (Debian's nginx-light)
// and a real Tollgate: with proxy_http_version 1.1 even an HTTP/1.0 client
// is served, and identity headers with bytes Tollgate's parser would strip
// are refused. Under CI=true a missing nginx fails.

const NGINX = findBinary('nginx');

const SHIPPED = fileURLToPath(new URL('../../deploy/nginx.conf', import.meta.url));


const suite = NGINX || process.env.CI === 'true' ? describe : describe.skip;
if (!NGINX && process.env.CI !== 'true') console.warn('skipping the nginx suite: nginx not found (apt-get install nginx-light)');

suite('the example nginx config', () => {
  let mock: Awaited<ReturnType<typeof startMockUpstream>>;
  let tg: Tollgate;
  let ng: ChildProcess | undefined;
  let port = 0;
  let log = '';

  beforeAll(async () => {
    if (!NGINX) throw new Error('nginx not found (apt-get install nginx-light); CI requires these tests to run');
    mock = await startMockUpstream({ completionTokens: 4 });
    tg = await startTollgate({ providers: providers(mock.url), customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }] }, { clockStart: TEST_CLOCK, shards: 1 });
    const dir = tempDir('tollgate-nginx-');
    port = await freePort();
    // Only the addresses change: one replica, a test port.
    const site = readFileSync(SHIPPED, 'utf8')
      .replace(/^(\s*)server tollgate-1:8080(.*)$/m, `$1server 127.0.0.1:${tg.port}$2`)
      .replace(/^\s*server tollgate-2:8080.*$/m, '')
      .replace(/^(\s*)listen 8080;/m, `$1listen 127.0.0.1:${port};`);
    expect(site).toContain(`127.0.0.1:${tg.port}`);
    writeFileSync(join(dir, 'site.conf'), site);
    writeFileSync(join(dir, 'nginx.conf'), [
      `pid ${join(dir, 'nginx.pid')};`, `error_log ${join(dir, 'error.log')};`, 'daemon off;', 'events {}',
      `http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; include ${join(dir, 'site.conf')}; }`,
    ].join('\n'));
    ng = spawn(NGINX, ['-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    ng.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.status, () => 0);
      if (r === 200) break;
      await sleep(100);
    }
  }, 30_000);

  afterAll(async () => {
    ng?.kill('SIGTERM');
    await tg?.stop();
    await mock?.close();
  });

  it('serves model calls through nginx', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(r.status, log).toBe(200);
    expect(r.headers.get('x-tollgate-request-id')).toMatch(/^req_/);
    await r.json();
  });

  it('serves an HTTP/1.0 client, speaking HTTP/1.1 to Tollgate', async () => {
    const r = await rawRequest(port, ['GET /healthz HTTP/1.0\r\n\r\n'], { timeoutMs: 5_000 });
    expect(r.head).toMatch(/^HTTP\/1\.[01] 200/);
  });

  it('refuses identity headers carrying bytes outside visible ASCII', async () => {
    const head = Buffer.concat([Buffer.from(`GET /v1/models HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${CUSTOMER_KEY}\r\nx-tollgate-customer: acm`), Buffer.from([0xc3, 0xa9]), Buffer.from('\r\nconnection: close\r\n\r\n')]);
    const r = await rawRequest(port, [head], { timeoutMs: 5_000 });
    expect(r.status).toBe(400);
  });
});
