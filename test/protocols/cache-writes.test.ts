import { describe, expect, it } from 'vitest';
import { cacheWriteTtl } from '../../src/protocols/estimate/cache-writes.js';

const cc = (ttl?: string) => ({ cache_control: { type: 'ephemeral', ...(ttl ? { ttl } : {}) } });

describe('cacheWriteTtl', () => {
  const cases: [string, Record<string, unknown>, '5m' | '1h' | undefined][] = [
    ['no marker', { messages: [{ role: 'user', content: 'hi' }] }, undefined],
    ['a system block', { system: [{ type: 'text', text: 'x', ...cc() }], messages: [] }, '5m'],
    ['a tool', { tools: [{ name: 't', input_schema: {}, ...cc() }], messages: [] }, '5m'],
    ['a content block of a message', { messages: [{ role: 'user', content: [{ type: 'text', text: 'x', ...cc() }] }] }, '5m'],
    ['a whole message (OpenAI-shaped, for Claude behind a gateway)', { messages: [{ role: 'user', content: 'x', ...cc() }] }, '5m'],
    ['the request itself (automatic caching)', { ...cc(), messages: [] }, '5m'],
    ['a 1-hour write anywhere wins over 5-minute ones', { system: [{ type: 'text', text: 'x', ...cc() }], messages: [{ role: 'user', content: [{ type: 'text', text: 'y', ...cc('1h') }] }] }, '1h'],
    ['a cache_control that is not an object', { system: [{ type: 'text', text: 'x', cache_control: 'ephemeral' }], messages: [] }, undefined],
  ];
  for (const [name, body, want] of cases) {
    it(`reads ${name} as ${want ?? 'no cache write'}`, () => expect(cacheWriteTtl(body)).toBe(want));
  }
});
