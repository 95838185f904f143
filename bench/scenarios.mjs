// The request bodies `npm run bench` sends. Each is one fixed body per run
// (autocannon replays it), sized like the traffic that matters: small chat
// calls, long agent prompts, streamed answers. The mock answers 19 words
// (bench/run.mjs starts it with --completion-tokens 19), so a streamed chat
// answer is 23 SSE events: role, 19 words, finish, usage, [DONE].

const SYSTEM = 'You are a concise assistant for an online store. Answer questions about orders, returns and shipping in one short paragraph.';

/** Deterministic prose (no two adjacent words repeat), about `bytes` long: tokenizes like text, not like one long run. */
function prose(bytes) {
  const words = ['the', 'order', 'shipped', 'from', 'our', 'warehouse', 'on', 'Monday', 'and', 'should', 'arrive', 'within', 'three', 'business', 'days', 'customer', 'asked', 'about', 'refund', 'policy', 'for', 'items', 'bought', 'during', 'sale', 'tracking', 'number', 'is', 'attached', 'below', 'please', 'confirm', 'address'];
  const out = [];
  let n = 0;
  let x = 12345;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const w = words[x % words.length];
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ').slice(0, bytes);
}

const chat = (content, extra = {}) => JSON.stringify({
  model: 'gpt-4o-mini',
  messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content }],
  max_tokens: 64,
  temperature: 0.2,
  user: 'bench-user-0001',
  ...extra,
});

const SMALL_QUESTION = 'Hello! I ordered a pair of running shoes last week (order 48213) and the tracking page has not changed since Tuesday. Can you tell me when it will arrive?';

export const SCENARIOS = [
  { name: 'small', label: 'small chat', body: chat(SMALL_QUESTION) },
  { name: 'long', label: 'long prompt', body: chat(prose(100 * 1024)) },
  { name: 'stream', label: 'streamed chat', body: chat(SMALL_QUESTION, { stream: true, stream_options: { include_usage: true } }) },
  // The stream without max_tokens: its output hold is a forecast that grows as the answer streams (src/proxy/stream-hold.ts).
  // Not named "stream…": `--only stream` picks scenarios by substring.
  { name: 'uncapped', label: 'streamed chat, no output cap', body: chat(SMALL_QUESTION, { stream: true, stream_options: { include_usage: true }, max_tokens: undefined }) },
];
