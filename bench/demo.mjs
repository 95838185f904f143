// npm run demo: the mock upstream on :9100 and Tollgate on :8080 in front of
// it, with a demo customer, so SDKs and curl can be tried without a provider key.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startMockUpstream } from './mock-upstream.mjs';
import { benchDir } from './bench-dir.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const mock = await startMockUpstream({ port: 9100, latencyMs: 50, chunkDelayMs: 30 });
const dir = benchDir('tollgate-demo-');
const config = join(dir, 'tollgate.yaml');
writeFileSync(config, JSON.stringify({
  listen: { host: '127.0.0.1', port: 8080 },
  dataDir: join(dir, 'data'),
  adminToken: 'demo-admin-token',
  providers: [
    { name: 'openai', type: 'openai', baseUrl: `${mock.url}/v1`, apiKey: 'sk-demo' },
    { name: 'anthropic', type: 'anthropic', baseUrl: mock.url, apiKey: 'sk-demo' },
  ],
  customers: [{ id: 'demo', keys: ['tg-demo-key-1'], budgets: [{ limit: 0.01, unit: 'USD', period: 'day', thresholds: [{ at: 0.8, action: 'warn' }] }] }],
}));
const tg = spawn(process.execPath, [join(root, 'dist/cli.js'), 'serve', '--config', config], { stdio: 'inherit' });
console.log(`
demo: mock upstream ${mock.url}; Tollgate http://127.0.0.1:8080 (customer key tg-demo-key-1, budget $0.01/day)

  curl -s http://127.0.0.1:8080/v1/chat/completions -H 'authorization: Bearer tg-demo-key-1' \\
    -H 'content-type: application/json' -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  curl -s http://127.0.0.1:8080/admin/customers/demo -H 'authorization: Bearer demo-admin-token'
`);
const stop = () => {
  tg.kill('SIGTERM');
  tg.once('exit', () => mock.close().then(() => process.exit(0)));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
