import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { KeyDirectory, parseTags } from '../../src/identity/key-directory.js';
import { hashKey } from '../../src/identity/key-hash.js';

// Keys that authenticated are remembered (bounded) so SHA-256 runs once per
// distinct key; the answers must be exactly those of hashing every call.

const KEYS = 1500; // more than the directory remembers, so some are evicted and hashed again

function directory() {
  return new KeyDirectory(parseConfig({
    providers: [{ name: 'oa', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' }],
    customers: [
      { id: 'acme', keys: Array.from({ length: KEYS }, (_, i) => `tg-acme-${i}`) },
      { id: 'beta', keyHashes: [`sha256:${hashKey('tg-beta-secret')}`] },
    ],
    appKeys: ['tg-app-key'],
  }, {}));
}

const bearer = (key: string, customer = '') => ({ authorization: `Bearer ${key}`, apiKey: '', customer, agent: '', tags: '' });

describe('key directory', () => {
  it('keeps identifying every key the same way however often and in whatever order keys are used', () => {
    const d = directory();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < KEYS; i += round + 1) {
        const who = d.identify(bearer(`tg-acme-${i}`));
        expect(who.ok && who.caller.customer).toBe('acme');
      }
      const beta = d.identify({ authorization: '', apiKey: 'tg-beta-secret', customer: '', agent: '', tags: '' });
      expect(beta.ok && beta.caller.customer).toBe('beta');
    }
  });

  it('still refuses a wrong key after the right ones were remembered, and an app key still needs its customer header', () => {
    const d = directory();
    expect(d.identify(bearer('tg-acme-1')).ok).toBe(true);
    for (let i = 0; i < 3; i++) {
      expect(d.identify(bearer('tg-acme-1x'))).toMatchObject({ ok: false, type: 'authentication_error' });
      expect(d.identify(bearer('tg-acme-'))).toMatchObject({ ok: false, type: 'authentication_error' });
    }
    expect(d.identify(bearer('tg-app-key', 'someone')).ok).toBe(true);
    expect(d.identify(bearer('tg-app-key'))).toMatchObject({ ok: false, type: 'invalid_request_error' });
    expect(d.identify(bearer('tg-acme-1', 'beta'))).toMatchObject({ ok: false, type: 'permission_error' });
  });
});

describe('parseTags', () => {
  it('reads k=v pairs, trimmed, a bare name as an empty value', () => {
    expect(parseTags(' team = a b ,env=prod,flag')).toEqual({ team: 'a b', env: 'prod', flag: '' });
  });
  it('keeps names Object.prototype has as own tags', () => {
    const tags = parseTags('constructor=x,toString=y') as Record<string, string>;
    expect(Object.hasOwn(tags, 'constructor') && Object.hasOwn(tags, 'toString')).toBe(true);
    expect(JSON.stringify(tags)).toBe('{"constructor":"x","toString":"y"}');
  });
  it('refuses __proto__, which a plain object would drop without a word', () => {
    expect(parseTags('team=a,__proto__=x')).toBe('x-tollgate-tags: "__proto__" is not a tag name');
  });
});
