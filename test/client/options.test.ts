import { describe, expect, it } from 'vitest';
import { wrap } from 'tollgate/client';

// wrap()'s options are checked once, when the client is wrapped, and a
// mistake names the option.

const sdkLike = { chat: { completions: { create: () => undefined } } };

describe('wrap() options', () => {
  it.each([
    ['a missing url', { key: 'k' }, 'tollgate/client: url: an http(s) URL of the Tollgate server (got undefined)'],
    ['a url without a scheme', { url: 'tollgate.internal', key: 'k' }, 'tollgate/client: url: an http(s) URL of the Tollgate server (got "tollgate.internal")'],
    ['a missing key', { url: 'http://127.0.0.1:1' }, 'tollgate/client: key: required (a Tollgate client key, or an app key with `customer`)'],
    ['an empty agent', { url: 'http://127.0.0.1:1', key: 'k', agent: '' }, 'tollgate/client: agent: a non-empty string (got "")'],
    ['an unknown fail mode', { url: 'http://127.0.0.1:1', key: 'k', failMode: 'ajar' }, "tollgate/client: failMode: 'closed' or 'open' (got \"ajar\")"],
    ['a zero timeout', { url: 'http://127.0.0.1:1', key: 'k', timeoutMs: 0 }, 'tollgate/client: timeoutMs: a number of milliseconds > 0 (got 0)'],
    ['a tag that is not a string', { url: 'http://127.0.0.1:1', key: 'k', tags: { team: 7 } }, 'tollgate/client: tags: an object of string values'],
  ])('rejects %s, naming the option', (_name, options, message) => {
    expect(() => wrap(sdkLike, options as any)).toThrow(message);
  });

  it('rejects an object that is neither SDK client', () => {
    expect(() => wrap({ models: {} }, { url: 'http://127.0.0.1:1', key: 'k' })).toThrow(/takes an OpenAI or Anthropic SDK client/);
  });
});
