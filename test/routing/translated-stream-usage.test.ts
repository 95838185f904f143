import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY } from '../helpers/fixtures.js';
import { customer, openaiProvider } from './helpers.js';

// An Anthropic client on a route served by an OpenAI model: the upstream
// reports prompt tokens only at the end of its stream, but clients such as
// LangChain's ChatAnthropic read input tokens only from message_start.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 6 });
  tg = await startTollgate({
    providers: [openaiProvider('openai', mock.url)],
    routes: [{ model: 'gpt-only', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
    customers: [customer],
  }, { shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a translated Anthropic stream', () => {
  it('reports the prompt tokens on message_start, at least what the upstream then bills', async () => {
    const anthropic = new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: tg.url, maxRetries: 0 });
    const stream = await anthropic.messages.create({
      model: 'gpt-only', max_tokens: 20, stream: true,
      system: 'You answer in one short sentence.',
      messages: [{ role: 'user', content: 'What does a translated stream report as input tokens at its start?' }],
    });
    let startInput: number | undefined;
    let finalInput: number | undefined;
    for await (const ev of stream) {
      if (ev.type === 'message_start') startInput = ev.message.usage.input_tokens;
      if (ev.type === 'message_delta') finalInput = ev.usage.input_tokens ?? undefined;
    }
    expect(startInput).toBeGreaterThan(0);
    expect(finalInput).toBeGreaterThan(0);
    expect(startInput!).toBeGreaterThanOrEqual(finalInput!);
  });
});
