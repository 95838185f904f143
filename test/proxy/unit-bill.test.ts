import { describe, expect, it } from 'vitest';
import { unitBill, type UnitBill } from '../../src/proxy/unit-call.js';
import type { MediaRequest } from '../../src/protocols/media/media-call.js';
import type { PriceMatch } from '../../src/pricing/price-table.js';
import { zeroUsage } from '../../src/protocols/call.js';

// What an answer is billed, from the quote and what the answer reports
// (pure: the same function the proxy settles with).

const gptImage: PriceMatch = { id: 'gpt-image-1', via: 'exact', entry: { provider: 'openai', mode: 'image_generation', source: 'litellm', input: 5_000_000, output: 40_000_000 } };
const perImage: PriceMatch = { id: 'low/1024-x-1024/gpt-image-1', via: 'exact', entry: { provider: 'openai', mode: 'image_generation', source: 'litellm', per_image: 11_000_000_000 } };
const whisper: PriceMatch = { id: 'whisper-1', via: 'exact', entry: { provider: 'openai', mode: 'audio_transcription', source: 'litellm', per_second: 100_000_000 } };

const images: MediaRequest = { kind: 'images', n: 2, size: '1024x1024', quality: 'low', promptBytes: 40 };
const imageQuote: UnitBill = { match: perImage, usage: { ...zeroUsage(), images: 2 }, unit: 'image', units: 2, source: 'request' };
const audio = (seconds: number | undefined, fileBytes: number): MediaRequest => ({ kind: 'audio', seconds, format: seconds === undefined ? undefined : 'wav', fileBytes, reportsDuration: true });
const audioQuote = (secs: number): UnitBill => ({ match: whisper, usage: { ...zeroUsage(), seconds: secs }, unit: 'second', units: secs, source: 'request' });

describe('unitBill', () => {
  it('bills a GPT image model by the tokens it reports', () => {
    const b = unitBill(imageQuote, images, gptImage, { data: [{}, {}], usage: { input_tokens: 12, output_tokens: 544 } });
    expect(b).toMatchObject({ match: gptImage, usage: { promptTokens: 12, completionTokens: 544 }, units: 2, source: 'provider' });
  });

  it('does not believe image output tokens beyond 10,000 an image, and bills per image instead', () => {
    const b = unitBill(imageQuote, images, gptImage, { data: [{}, {}], usage: { input_tokens: 12, output_tokens: 50_000 } });
    expect(b).toMatchObject({ match: perImage, usage: { images: 2 }, source: 'request' });
    expect(b.invalid).toMatch(/output_tokens=50000 for 2 image/);
  });

  it('bills the images returned when fewer than asked came back', () => {
    const b = unitBill(imageQuote, images, perImage, { data: [{}] });
    expect(b).toMatchObject({ usage: { images: 1 }, units: 1, source: 'provider' });
  });

  it('bills the reported duration rounded to the nearest second', () => {
    expect(unitBill(audioQuote(30), audio(30, 960_044), whisper, { usage: { type: 'duration', seconds: 29.6 } })).toMatchObject({ units: 30, usage: { seconds: 30 }, source: 'provider' });
    expect(unitBill(audioQuote(30), audio(30, 960_044), whisper, { duration: 12.4 })).toMatchObject({ units: 12, source: 'provider' });
  });

  it('keeps the measured length when the report is beyond what the bytes could hold, zero or not a number', () => {
    for (const duration of [2000, 0, -3, Number.NaN]) {
      const b = unitBill(audioQuote(30), audio(30, 960_044), whisper, { duration });
      expect(b).toMatchObject({ units: 30, source: 'request' });
      expect(b.invalid).toMatch(/reported duration/);
    }
  });

  it('believes a report longer than the header up to the file at 6 kbit/s, and notes it', () => {
    const b = unitBill(audioQuote(1), audio(1, 75_000), whisper, { duration: 99 });
    expect(b).toMatchObject({ units: 99, source: 'provider' });
    expect(b.note).toMatch(/exceeds the 1\.000 s/);
    expect(unitBill(audioQuote(1), audio(1, 75_000), whisper, { duration: 101 })).toMatchObject({ units: 1, source: 'request' });
  });

  it('bills the quote (never $0) when an unmeasured upload gets no duration back', () => {
    const quote: UnitBill = { ...audioQuote(40), source: 'estimate' };
    expect(unitBill(quote, audio(undefined, 30_000), whisper, { text: 'hi' })).toBe(quote);
    expect(unitBill(quote, audio(undefined, 30_000), whisper, undefined)).toBe(quote);
  });
});
