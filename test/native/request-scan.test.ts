import { describe, expect, it } from 'vitest';
import { S } from '../../src/native/scan-slots.js';
import { nativePath } from '../../src/native/native-addon.js';
import { normalised, outcome, PATHS, read, reserialised, EDITS, requireNative } from './scan-both.js';
import { BadRequest, upstreamBody } from '../../src/protocols/call.js';

// The request reader on both paths (JavaScript, native addon): the fields,
// refusals, estimate and spliced upstream body of hand-written bodies.

const b = (s: string) => Buffer.from(s);

describe('the native addon', () => {
  it('loaded (required under CI and with TOLLGATE_NATIVE=1)', () => {
    if (requireNative && process.env.TOLLGATE_NATIVE !== '0') expect(nativePath.kind).toBe('native');
    expect(PATHS).toContain('js');
  });
  it.runIf(nativePath.kind === 'native')('fills as many result slots as scan-slots.ts names', () => {
    // load() checked the count; a scan writes no further than it.
    expect(S.COUNT).toBe(58);
  });
});

describe.each(PATHS)('reading a request body (%s path)', (path) => {
  it('reads model, stream, caps, choices and stream usage', () => {
    const c = read(path, 'chat', b('{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":100,"max_completion_tokens":300,"stream":true,"stream_options":{"include_usage":true},"n":3,"best_of":2}'));
    expect([c.model, c.stream, c.maxOutputTokens, c.choices, c.wantsStreamUsage, c.protocol]).toEqual(['gpt-4o', true, 300, 3, true, 'openai']);
    expect(c.body.messages).toEqual([{ role: 'user', content: 'hi' }]);
  });

  it('decodes escapes in keys and the model', () => {
    const c = read(path, 'chat', b('{"\\u006dodel":"gpt-4\\u006f\\ud83d\\ude00","messages":[]}'));
    expect(c.model).toBe('gpt-4o\u{1f600}');
  });

  it('refuses duplicate keys at the top level and below, escaped or not', () => {
    expect(() => read(path, 'chat', b('{"model":"gpt-4o-mini","messages":[],"\\u006dodel":"gpt-4o"}'))).toThrow('request body has the key "model" twice');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[{"role":"user","content":"a","content":"b"}]}'))).toThrow('"content" twice');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],"stream_options":{"include_usage":false,"include_usage":true}}'))).toThrow('"include_usage" twice');
  });

  it('refuses what the JavaScript path always refused, with its messages', () => {
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],}'))).toThrow('request body is not valid JSON');
    expect(() => read(path, 'chat', Buffer.from([0x7b, 0x22, 0xc0, 0x80, 0x22, 0x3a, 0x31, 0x7d]))).toThrow('request body is not valid UTF-8');
    expect(() => read(path, 'chat', b('[{"model":"m"}]'))).toThrow('request body must be a JSON object');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],"max_tokens":1.5}'))).toThrow('"max_tokens" must be a positive integer');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],"n":1e3}'))).toThrow('"n" must be an integer from 1 to 128');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],"stream":"yes"}'))).toThrow('"stream" must be a boolean');
    expect(() => read(path, 'chat', b('{"model":"m","messages":[],"stream_options":[true]}'))).toThrow('"stream_options" must be an object');
    expect(() => read(path, 'messages', b('{"model":"m","messages":[]}'))).toThrow('"max_tokens" is required');
    const deep = `{"model":"m","messages":${'['.repeat(66)}${']'.repeat(66)}}`;
    expect(() => read(path, 'chat', b(deep))).toThrow('nests deeper than 64');
    // Under a field that only steers the call, depth is not the estimate's business.
    expect(read(path, 'chat', b(`{"model":"m","messages":[],"metadata":${'['.repeat(500)}${']'.repeat(500)}}`)).model).toBe('m');
  });

  it('refuses the fuzz test\'s 20,000 nested objects with the depth 400, not a stack overflow (was a 500)', () => {
    // JSON.parse takes this nesting; the duplicate-key count over the parsed
    // body recursed and overflowed the stack before the depth check ran.
    const n = 20_000;
    const nested = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}]}`;
    for (const endpoint of ['chat', 'responses', 'embeddings', 'messages'] as const) {
      expect(() => read(path, endpoint, b(nested))).toThrow(BadRequest);
    }
    expect(() => read(path, 'chat', b(nested))).toThrow('nests deeper than 64');
    const steering = `{"model":"m","messages":[],"metadata":${'{"a":'.repeat(n)}1${'}'.repeat(n)}}`;
    expect(read(path, 'chat', b(steering)).model).toBe('m');
  });

  it('takes a numeric cap written as 1e3 or 100.0', () => {
    expect(read(path, 'chat', b('{"model":"m","messages":[],"max_tokens":1e3}')).maxOutputTokens).toBe(1000);
    expect(read(path, 'chat', b('{"model":"m","messages":[],"max_tokens":100.0}')).maxOutputTokens).toBe(100);
  });

  it('reads stored context, prediction and cache writes', () => {
    expect(read(path, 'responses', b('{"model":"gpt-4o","input":"x","previous_response_id":"resp_1"}')).storedContext).toBe('previous_response_id');
    expect(read(path, 'responses', b('{"model":"gpt-4o","input":"x","tools":[{"type":"function"},{"type":"web_search_preview"}]}')).storedContext).toBe('tools[].type web_search_preview');
    expect(read(path, 'chat', b('{"model":"gpt-4o","messages":[],"prediction":{"type":"content","content":"hello world"}}')).predictionTokens).toBeGreaterThan(8);
    expect(read(path, 'messages', b('{"model":"claude-x","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":{"type":"ephemeral","ttl":"1h"}}]}]}')).cacheWrite).toBe('1h');
  });

  it('forwards the client\'s bytes untouched when nothing is edited', () => {
    const raw = b('{ "model" : "gpt-4o", "messages":[{"role":"user","content":"caf\\u00e9"}], "max_tokens": 10 }');
    const c = read(path, 'chat', raw);
    expect(upstreamBody(c, 'gpt-4o', undefined)).toBe(raw);
  });

  it('splices the model, the caps and include_usage into the client\'s bytes', () => {
    const raw = b('{ "model" : "gpt-4o", "messages":[{"role":"user","content":"caf\\u00e9"}], "max_tokens": 10, "max_completion_tokens": null, "stream": true, "stream_options": {"include_usage": false} }');
    const c = read(path, 'chat', raw);
    const out = upstreamBody(c, 'gpt-4o-mini', 5).toString();
    expect(out).toBe('{ "model" : "gpt-4o-mini", "messages":[{"role":"user","content":"caf\\u00e9"}], "max_tokens": 5, "max_completion_tokens": null, "stream": true, "stream_options": {"include_usage": true} }');
    // A cap the client did not send is added; stream_options too.
    const c2 = read(path, 'chat', b('{"model":"m","messages":[],"stream":true}'));
    expect(JSON.parse(upstreamBody(c2, 'm', 9).toString())).toEqual({ model: 'm', messages: [], stream: true, max_tokens: 9, stream_options: { include_usage: true } });
    const c3 = read(path, 'chat', b('{"model":"m","messages":[],"stream":true,"stream_options":{}}'));
    expect(upstreamBody(c3, 'm', undefined).toString()).toBe('{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}');
  });

  it('drops a byte-order mark from the upstream body', () => {
    const c = read(path, 'chat', b('\ufeff{"model":"m","messages":[]}'));
    expect(upstreamBody(c, 'm', undefined).toString()).toBe('{"model":"m","messages":[]}');
  });
});

describe('both paths agree on hand-written bodies', () => {
  const cases: [Parameters<typeof outcome>[1], string][] = [
    ['chat', '{"model":"gpt-4o","messages":[{"role":"user","content":"The quick brown fox, 12345 times; internationalization!"}],"max_tokens":10}'],
    ['chat', '{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"internationalization representatives"}]}'],
    ['embeddings', '{"model":"text-embedding-3-small","input":[1,2,3,-4,5.5,[6]]}'],
    ['embeddings', '{"model":"text-embedding-3-small","input":[[1,2],[3,"x",[4]],{"a":1}]}'],
    ['chat', '{"model":"gpt-4o","messages":[1.5,1e21,1e-7,-0,0.000001,123456789012345678,1e400,-1e400,5e-324]}'],
    ['chat', '{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://e/x.png","detail":"low"}}]}]}'],
    ['chat', '{"model":"gpt-4o","messages":["\\ud800 lone","\\udc00\\ud800","\\u0000\\t\\r\\n  \\n\\n   x"]}'],
    ['responses', '{"model":"gpt-4o","input":"x","mcp_servers":[],"prompt":[1]}'],
    ['responses', '{"model":"gpt-4o","input":"x","mcp_servers":[{}],"conversation":null}'],
  ];
  it.runIf(PATHS.length === 2).each(cases)('%s %s', (endpoint, text) => {
    const raw = b(text);
    expect(outcome('native', endpoint, raw)).toEqual(outcome('js', endpoint, raw));
    const c = read('js', endpoint, raw);
    EDITS.forEach(([m, max], i) => expect(normalised(upstreamBody(c, m ?? c.model, max))).toEqual(reserialised(c)[i]));
  });
});
