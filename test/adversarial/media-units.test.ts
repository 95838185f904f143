import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI, { toFile } from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers, sleep } from '../helpers/fixtures.js';
import { wavSilence } from '../helpers/audio-files.js';

// Attacks on unit-billed calls: a header that understates the audio, many
// image calls racing one budget, a client that hangs up once the call is
// forwarded. Asserted: spend ≤ limit + the stated bound (unit calls reserve
// their whole price, so the bound is 0 for images and speech); every upstream
// call the mock received has a charged row; no answered call is billed $0.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const KEYS = { race: 'tg-race-key-0001', liar: 'tg-liar-key-0001', gone: 'tg-gone-key-0001', resold: 'tg-resold-key-001' };
const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });

const u32be = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
const box = (type: string, ...body: Buffer[]) => { const p = Buffer.concat(body); return Buffer.concat([u32be(8 + p.length), Buffer.from(type, 'latin1'), p]); };
/** An M4A whose mvhd claims `claimed` seconds whatever the mdat holds. */
const lyingM4a = (claimed: number, bytes: number) => Buffer.concat([
  box('ftyp', Buffer.from('M4A \0\0\0\0isomM4A ', 'latin1')),
  box('moov', box('mvhd', Buffer.concat([Buffer.alloc(12), u32be(1000), u32be(claimed * 1000), Buffer.alloc(80)]))),
  box('mdat', Buffer.alloc(bytes)),
]);

beforeAll(async () => {
  mock = await startMockUpstream({});
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'race', keys: [KEYS.race], budgets: [{ limit: 0.1, unit: 'USD', period: 'month' }] },
      { id: 'liar', keys: [KEYS.liar] },
      { id: 'gone', keys: [KEYS.gone] },
      // Per-token resale prices for a model billed per image: applied to images they would charge $0.
      { id: 'resold', keys: [KEYS.resold], markup: 1.5, prices: { 'dall-e-3': { input: 1, output: 1 } }, budgets: [{ limit: 1, unit: 'USD', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const rows = async (customer: string): Promise<any[]> => (await tg.admin(`/admin/usage?customer=${customer}&limit=1000`)).rows;

describe('unit-billed calls under attack', () => {
  it('holds 20 concurrent image calls on a budget worth 2.5 images to the limit', async () => {
    const before = mock.stats().requests;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client(KEYS.race).images.generate({ model: 'dall-e-3', prompt: `race ${i}` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    expect(ok).toBe(2);
    expect(results.filter((r) => r.status === 'rejected' && (r.reason as any).status === 402)).toHaveLength(18);
    expect(mock.stats().requests - before).toBe(ok);
    const usd = (await tg.admin('/admin/customers/race')).budgets.find((b: any) => b.unit === 'USD');
    expect(usd.used).toBeLessThanOrEqual(0.1);
    expect(usd.used).toBeCloseTo(0.08, 12);
    expect(usd.reserved).toBe(0);
  });

  it('bills the duration the provider heard when the upload header understates it', async () => {
    mock.setBehavior({ audioSeconds: 40 });
    try {
      // Claims 1 s; 60,000 bytes could hold 80 s even at 6 kbit/s.
      const file = await toFile(lyingM4a(1, 60_000), 'a.m4a', { type: 'audio/mp4' });
      await client(KEYS.liar).audio.transcriptions.create({ model: 'whisper-1', file });
    } finally {
      mock.setBehavior({ audioSeconds: null });
    }
    const [row] = await rows('liar');
    expect(row).toMatchObject({ unit: 'second', units: 40, usage_source: 'provider', status: 200 });
    expect(row.cost_usd).toBe(0.004);
    expect(row.reason).toMatch(/reported duration 40 s exceeds the 1\.000 s the file's header states/);
  });

  it('bills speech and audio when the client hangs up after the call was forwarded', async () => {
    mock.setBehavior({ latencyMs: 400 });
    try {
      const c = new OpenAI({ apiKey: KEYS.gone, baseURL: `${tg.url}/v1`, maxRetries: 0, timeout: 150 });
      const speech = c.audio.speech.create({ model: 'tts-1', input: 'x'.repeat(200), voice: 'alloy' }).then((r) => r.arrayBuffer());
      const file = await toFile(wavSilence(10), 'a.wav', { type: 'audio/wav' });
      const audio = c.audio.transcriptions.create({ model: 'whisper-1', file });
      await Promise.allSettled([speech, audio]);
      await sleep(700);
    } finally {
      mock.setBehavior({ latencyMs: 0 });
    }
    const r = await rows('gone');
    const speechRow = r.find((x) => x.endpoint === '/v1/audio/speech');
    const audioRow = r.find((x) => x.endpoint === '/v1/audio/transcriptions');
    expect(speechRow).toMatchObject({ status: 499, unit: 'character', units: 200 });
    expect(speechRow.cost_usd).toBe(0.003);
    expect(audioRow).toMatchObject({ status: 499, unit: 'second', units: 10 });
    expect(audioRow.cost_usd).toBe(0.001);
  });

  it('resells an image by the markup when the customer has per-token prices for the model, never at $0', async () => {
    await client(KEYS.resold).images.generate({ model: 'dall-e-3', prompt: 'resold' });
    const [row] = await rows('resold');
    expect(row.cost_usd).toBe(0.04);
    expect(row.billed).toBeCloseTo(0.06, 12);
    const usd = (await tg.admin('/admin/customers/resold')).budgets.find((b: any) => b.unit === 'USD');
    expect(usd.used).toBeCloseTo(0.06, 12);
  });

  it('refuses a form with two model fields, where the provider could read the other one', async () => {
    const before = mock.stats().requests;
    const form = new FormData();
    form.append('model', 'whisper-1');
    form.append('model', 'gpt-4o-transcribe');
    form.append('file', new Blob([wavSilence(1)]), 'a.wav');
    const r = await fetch(`${tg.url}/v1/audio/transcriptions`, { method: 'POST', headers: { authorization: `Bearer ${KEYS.liar}` }, body: form });
    expect(r.status).toBe(400);
    expect((await r.json()).error.message).toMatch(/more than one "model" part/);
    expect(mock.stats().requests).toBe(before);
  });

  it('leaves no upstream call without a charged row, and no answered unit call at $0', async () => {
    const stats = mock.stats();
    const received = ['/v1/images/generations', '/v1/audio/speech', '/v1/audio/transcriptions'].reduce((s, p) => s + (stats.byPath[p] ?? 0), 0);
    const all = [...(await rows('race')), ...(await rows('liar')), ...(await rows('gone')), ...(await rows('resold'))];
    const charged = all.filter((x) => x.decision === 'allowed' && x.cost_usd > 0);
    expect(charged).toHaveLength(received);
    expect(all.filter((x) => x.decision === 'allowed' && x.cost_usd === 0)).toEqual([]);
  });
});
