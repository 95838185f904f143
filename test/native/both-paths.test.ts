import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { PATHS } from './scan-both.js';

// The key process behaviour on both request paths, in one run: two Tollgates
// on one mock, TOLLGATE_NATIVE=0 and =1, the same calls to each. Each says
// at startup which path it is on; both answer the same, send the provider
// the same body and write the same usage row. (The rest of the process
// suites run on whichever path loaded; `TOLLGATE_NATIVE=0 npx vitest run
// test/proxy test/adversarial` runs them on the fallback.)

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
const tg: Record<'js' | 'native', Tollgate | undefined> = { js: undefined, native: undefined };

const config = () => ({
  providers: providers(mock.url),
  customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }, { limit: 50_000_000, unit: 'tokens', period: 'day' }] }],
  shards: 1,
});

beforeAll(async () => {
  mock = await startMockUpstream();
  tg.js = await startTollgate(config(), { clockStart: TEST_CLOCK, env: { TOLLGATE_NATIVE: '0' } });
  if (PATHS.includes('native')) tg.native = await startTollgate(config(), { clockStart: TEST_CLOCK, env: { TOLLGATE_NATIVE: '1' } });
});

afterAll(async () => {
  await tg.js?.stop();
  await tg.native?.stop();
  await mock?.close();
});

const ROW_FIELDS = ['endpoint', 'model_requested', 'model', 'prompt_tokens', 'completion_tokens', 'cost_nano', 'billed_nano', 'decision', 'reason', 'status', 'usage_source'];

/** What one call looks like from outside: the answer, the body the provider got, the usage row. */
async function call(t: Tollgate, path: string, body: string | Buffer) {
  await mock.reset({ keepBehavior: true });
  const r = await fetch(t.url + path, { method: 'POST', headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' }, body });
  const text = await r.text();
  const id = r.headers.get('x-tollgate-request-id');
  const sent = mock.stats().lastBody;
  const answer = r.status >= 400 ? JSON.parse(text) : r.headers.get('content-type')?.includes('event-stream') ? 'stream' : Object.keys(JSON.parse(text)).sort();
  let row: Record<string, unknown> | undefined;
  if (r.status < 400 && id) {
    const full = await t.usageRow('acme', id);
    row = Object.fromEntries(ROW_FIELDS.map((f) => [f, full[f]]));
  }
  return { status: r.status, cost: r.headers.get('x-tollgate-cost'), answer, sent, row };
}

const long = 'Summarise the following design notes, keeping every number. '.repeat(1700);
const CALLS: [string, string, string][] = [
  ['small chat', '/v1/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello, how are you?' }], max_tokens: 16 })],
  ['stream (include_usage spliced in)', '/v1/chat/completions', '{ "model": "gpt-4o-mini", "stream": true, "stream_options": {}, "messages": [{"role":"user","content":"caf\\u00e9 \\ud83d\\ude00"}] }'],
  ['100 KB prompt', '/v1/chat/completions', JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: long }], max_tokens: 64 })],
  ['messages', '/v1/messages', JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 32, system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: 'hi' }] })],
  ['responses with a tool', '/v1/responses', JSON.stringify({ model: 'gpt-4o-mini', input: 'find it', tools: [{ type: 'function', name: 'f', parameters: { type: 'object' } }], max_output_tokens: 20 })],
  ['a repeated model key', '/v1/chat/completions', '{"model":"gpt-4o-mini","messages":[],"model":"gpt-4o"}'],
  ['broken JSON', '/v1/chat/completions', '{"model":"gpt-4o-mini","messages":[}'],
  ['stream_options not an object', '/v1/chat/completions', '{"model":"gpt-4o-mini","messages":[],"stream":true,"stream_options":true}'],
];

describe.runIf(PATHS.includes('native'))('a Tollgate on each path', () => {
  it('says at startup which path scans request bodies', () => {
    expect(tg.native!.logs()).toContain('request bodies are scanned by the native addon');
    expect(tg.js!.logs()).toContain('WARNING: the native addon is not in use (TOLLGATE_NATIVE=0)');
  });

  it.each(CALLS)('answers %s the same, sends the same body, writes the same row', async (_name, path, body) => {
    const js = await call(tg.js!, path, body);
    const native = await call(tg.native!, path, body);
    expect(native).toEqual(js);
    if (js.status < 400) expect(js.sent).toBeTruthy();
  });
});
