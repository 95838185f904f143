import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { wavSilence } from '../helpers/audio-files.js';

// Images, speech and audio through the proxy with the official SDK: each
// billed per unit at the vendor's published price (written here as the
// vendor states it, not read from the table), through the same reservation,
// budgets and ledger as chat. Vendor prices: dall-e-3 standard 1024x1024
// $0.040, 1024x1792 $0.080; tts-1 $15 / 1M characters; whisper-1 $0.006 / minute.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEYS = { img: 'tg-img-key-0001', tts: 'tg-tts-key-0001', asr: 'tg-asr-key-0001', small: 'tg-small-key-001', misc: 'tg-misc-key-0001' };
const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });

beforeAll(async () => {
  mock = await startMockUpstream({});
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'img', keys: [KEYS.img] },
      { id: 'tts', keys: [KEYS.tts] },
      { id: 'asr', keys: [KEYS.asr] },
      // Worth 2.5 standard 1024x1024 dall-e-3 images.
      { id: 'small', keys: [KEYS.small], budgets: [{ limit: 0.1, unit: 'USD', period: 'month' }] },
      { id: 'misc', keys: [KEYS.misc] },
    ],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function rows(customer: string): Promise<any[]> {
  const { rows } = await tg.admin(`/admin/usage?customer=${customer}&limit=1000`);
  return rows;
}

describe('unit-billed endpoints', () => {
  it('bills 2 images at 1024x1024 and 1 at 1024x1792 from dall-e-3 at the vendor price', async () => {
    const a = await client(KEYS.img).images.generate({ model: 'dall-e-3', prompt: 'a lighthouse', n: 2, size: '1024x1024' });
    const b = await client(KEYS.img).images.generate({ model: 'dall-e-3', prompt: 'a tall lighthouse', size: '1024x1792' });
    expect(a.data).toHaveLength(2);
    expect(b.data).toHaveLength(1);
    const r = (await rows('img')).sort((x, y) => x.ts.localeCompare(y.ts) || x.units - y.units);
    expect(r).toHaveLength(2);
    const byUnits = Object.fromEntries(r.map((x) => [x.units, x]));
    expect(byUnits[2]).toMatchObject({ endpoint: '/v1/images/generations', model: 'dall-e-3', unit: 'image', units: 2, price_source: 'standard/1024-x-1024/dall-e-3', usage_source: 'request', status: 200 });
    expect(byUnits[2].cost_usd).toBe(0.08);
    expect(byUnits[1]).toMatchObject({ unit: 'image', units: 1, price_source: 'standard/1024-x-1792/dall-e-3' });
    expect(byUnits[1].cost_usd).toBe(0.08);
    expect(r.reduce((s, x) => s + x.cost_usd, 0)).toBeCloseTo(0.16, 12);
  });

  it('bills an HD image at the HD price', async () => {
    const res = await client(KEYS.misc).images.generate({ model: 'dall-e-3', prompt: 'hd', size: '1024x1792', quality: 'hd' });
    expect(res.data).toHaveLength(1);
    const row = (await rows('misc')).find((x) => x.price_source === 'hd/1024-x-1792/dall-e-3');
    expect(row?.cost_usd).toBe(0.12);
  });

  it('bills 1,000 characters of tts-1 at $15 per million and relays the audio untouched', async () => {
    const input = 'abcdefghij'.repeat(100);
    const res = await client(KEYS.tts).audio.speech.create({ model: 'tts-1', input, voice: 'alloy' });
    expect(res.headers.get('content-type')).toBe('audio/mpeg');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(64 + 1000);
    expect(bytes.toString('latin1', 0, 3)).toBe('ID3');
    expect(bytes[10]).toBe((10 * 31 + 1000) & 0xff);
    const [row] = await rows('tts');
    expect(row).toMatchObject({ endpoint: '/v1/audio/speech', model: 'tts-1', unit: 'character', units: 1000, status: 200 });
    expect(row.cost_usd).toBe(0.015);
    const csv = (await tg.adminText('/admin/usage?customer=tts&format=csv')).trim().split('\n');
    expect(csv[0]).toMatch(/,session,unit,units,key_id$/);
    expect(csv[1]).toMatch(/,request,,character,1000,$/);
  });

  it('counts speech characters as Unicode code points', async () => {
    await client(KEYS.misc).audio.speech.create({ model: 'tts-1-hd', input: '😀é', voice: 'alloy' });
    const row = (await rows('misc')).find((x) => x.model === 'tts-1-hd');
    expect(row).toMatchObject({ unit: 'character', units: 2 });
    expect(row.cost_usd).toBe(0.00006);
  });

  it('bills a 30 s WAV through whisper-1 at $0.006 a minute', async () => {
    const file = await toFile(wavSilence(30), 'speech.wav', { type: 'audio/wav' });
    const res = await client(KEYS.asr).audio.transcriptions.create({ model: 'whisper-1', file });
    expect(res.text).toBe('mock transcript');
    const sent = mock.stats().lastHeaders;
    expect(sent['authorization']).toBe('Bearer sk-upstream-openai-secret');
    const [row] = await rows('asr');
    expect(row).toMatchObject({ endpoint: '/v1/audio/transcriptions', model: 'whisper-1', unit: 'second', units: 30, usage_source: 'provider', status: 200 });
    expect(row.cost_usd).toBe(0.003);
  });

  it('bills a token-priced transcription model by the tokens its answer reports', async () => {
    const file = await toFile(wavSilence(30), 'speech.wav', { type: 'audio/wav' });
    await client(KEYS.misc).audio.transcriptions.create({ model: 'gpt-4o-transcribe', file });
    const row = (await rows('misc')).find((x) => x.model === 'gpt-4o-transcribe');
    // The mock reports 10 audio tokens a second and 3 output tokens; gpt-4o-transcribe: $6 / 1M in, $10 / 1M out.
    expect(row).toMatchObject({ unit: 'second', units: 30, usage_source: 'provider', prompt_tokens: 300, completion_tokens: 3 });
    expect(row.cost_usd).toBeCloseTo((300 * 6 + 3 * 10) / 1e6, 12);
  });

  it('bills a translation by the measured seconds when the provider reports a duration the file cannot have', async () => {
    mock.setBehavior({ audioSeconds: 600 });
    try {
      const file = await toFile(wavSilence(12), 'speech.wav', { type: 'audio/wav' });
      await client(KEYS.misc).audio.translations.create({ model: 'whisper-1', file, response_format: 'verbose_json' });
    } finally {
      mock.setBehavior({ audioSeconds: null });
    }
    const row = (await rows('misc')).find((x) => x.endpoint === '/v1/audio/translations');
    expect(row).toMatchObject({ unit: 'second', units: 12, usage_source: 'request' });
    expect(row.reason).toMatch(/invalid_provider_usage: reported duration 600/);
    expect(row.cost_usd).toBe(0.0012);
  });

  it('refuses an upload whose duration cannot be measured when the answer would not state it', async () => {
    const before = mock.stats().requests;
    const file = await toFile(Buffer.from('not audio at all, just some bytes'.repeat(10)), 'a.webm', { type: 'audio/webm' });
    const err = await client(KEYS.misc).audio.transcriptions.create({ model: 'whisper-1', file }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error?.type ?? err.type).toBe('audio_duration_unknown');
    expect(mock.stats().requests).toBe(before);
  });

  it('bills an unmeasurable upload at the duration the provider states in verbose_json', async () => {
    mock.setBehavior({ audioSeconds: 4.2 });
    try {
      const file = await toFile(Buffer.alloc(30_000, 7), 'a.webm', { type: 'audio/webm' });
      const res = await client(KEYS.misc).audio.transcriptions.create({ model: 'whisper-1', file, response_format: 'verbose_json' });
      expect(res.text).toBe('mock transcript');
    } finally {
      mock.setBehavior({ audioSeconds: null });
    }
    const row = (await rows('misc')).find((x) => x.endpoint === '/v1/audio/transcriptions' && x.model === 'whisper-1');
    // OpenAI rounds to the nearest second: 4.2 s bills 4.
    expect(row).toMatchObject({ unit: 'second', units: 4, usage_source: 'provider' });
    expect(row.cost_usd).toBe(0.0004);
  });

  it('refuses an image model without a per-image price instead of letting it through at $0', async () => {
    const before = mock.stats().requests;
    const err = await client(KEYS.misc).images.generate({ model: 'gpt-4o-mini', prompt: 'x' }).catch((e) => e);
    expect(err.status).toBe(400);
    expect(err.error?.type ?? err.type).toBe('model_not_priced');
    expect(mock.stats().requests).toBe(before);
    const zero = (await rows('misc')).filter((x) => x.status === 200 && x.cost_usd === 0);
    expect(zero).toEqual([]);
  });

  it('bills a GPT image model by the tokens its answer reports', async () => {
    await client(KEYS.misc).images.generate({ model: 'gpt-image-1', prompt: 'tokens please', quality: 'low', size: '1024x1024' });
    const row = (await rows('misc')).find((x) => x.model === 'gpt-image-1');
    expect(row).toMatchObject({ unit: 'image', units: 1, usage_source: 'provider', completion_tokens: 1056 });
    // gpt-image-1: $5 / 1M text input tokens, $40 / 1M image output tokens.
    expect(row.cost_usd).toBeCloseTo((row.prompt_tokens * 5 + 1056 * 40) / 1e6, 12);
  });

  it('refuses the third image on a budget worth 2.5', async () => {
    const c = client(KEYS.small);
    await c.images.generate({ model: 'dall-e-3', prompt: 'one' });
    await c.images.generate({ model: 'dall-e-3', prompt: 'two' });
    const before = mock.stats().requests;
    const err = await c.images.generate({ model: 'dall-e-3', prompt: 'three' }).catch((e) => e);
    expect(err.status).toBe(402);
    expect(mock.stats().requests).toBe(before);
    const r = await rows('small');
    expect(r.filter((x) => x.decision === 'allowed').map((x) => x.cost_usd)).toEqual([0.04, 0.04]);
    expect(r.filter((x) => x.decision === 'blocked')).toHaveLength(1);
    const view = await tg.admin('/admin/customers/small');
    const usd = view.budgets.find((b: any) => b.unit === 'USD');
    expect(usd.used).toBeCloseTo(0.08, 12);
    expect(usd.reserved).toBe(0);
  });
});
