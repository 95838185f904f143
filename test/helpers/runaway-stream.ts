import OpenAI from 'openai';
import { get_encoding } from '@dqbd/tiktoken';
import { startTollgate, type Tollgate, TEST_CLOCK } from './tollgate-process.js';
import { providers } from './fixtures.js';

// A runaway answer for the stream-cut attacks: an uncapped chat stream of
// one word per SSE event ("tok123 "), served by a hand-written upstream that
// decides how the events are split into reads, against a customer with a
// token budget and no max_tokens.

/** One event is one word: a few tokens; a count of text split at event edges may add one per event. */
export const ONE_EVENT = 8;

/** The i-th event (the first carries the role) of the answer with this id. */
export function runawayEvent(id: string, i: number): string {
  const delta = i === 0 ? { role: 'assistant', content: '' } : { content: `tok${i} ` };
  return `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`;
}

/** The answer's last event and [DONE]: as the upstream would end it, had nobody cut it. */
export const runawayEnding = (id: string): string =>
  `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`;

/** Tollgate in front of `upstreamUrl`, with one customer holding `limit` tokens a month. */
export function startRunawayProxy(upstreamUrl: string, customer: string, key: string, limit: number): Promise<Tollgate> {
  return startTollgate({
    providers: providers(upstreamUrl),
    routes: [{ model: 'gpt-4o-mini', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
    customers: [{ id: customer, keys: [key], budgets: [{ limit, unit: 'tokens', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
}

/** Reads the runaway stream through the official SDK: the text relayed, counted, the finish reason and the chunk ids. */
export async function readRunaway(tg: Tollgate, key: string): Promise<{ relayed: number; finish: string | null; ids: Set<string> }> {
  const openai = new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
  const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'write a very long story' }], stream: true });
  let text = '';
  let finish: string | null = null;
  const ids = new Set<string>();
  for await (const c of stream) {
    text += c.choices[0]?.delta?.content ?? '';
    finish = c.choices[0]?.finish_reason ?? finish;
    ids.add(c.id);
  }
  const enc = get_encoding('o200k_base');
  const relayed = enc.encode(text).length;
  enc.free();
  return { relayed, finish, ids };
}
