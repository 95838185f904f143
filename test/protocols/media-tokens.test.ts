import { describe, expect, it } from 'vitest';
import { imageSize } from '../../src/protocols/estimate/image-size.js';
import { ANTHROPIC_IMAGE_MAX, anthropicImageTokens, audioTokens, openaiImageTokens } from '../../src/protocols/estimate/media-tokens.js';
import { parseCall } from '../../src/protocols/call.js';

// Media are priced by their structure and the vendors' rules, never by a
// string's first bytes; what does not parse as the claimed media is text.

function png(w: number, h: number): Buffer {
  const b = Buffer.alloc(33);
  b.writeUInt32BE(0x89504e47, 0);
  b.writeUInt32BE(0x0d0a1a0a, 4);
  b.writeUInt32BE(13, 8);
  b.write('IHDR', 12, 'latin1');
  b.writeUInt32BE(w, 16);
  b.writeUInt32BE(h, 20);
  return b;
}
function jpeg(w: number, h: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, h >> 8, h & 255, w >> 8, w & 255, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof]);
}
function gif(w: number, h: number): Buffer {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(w, 6);
  b.writeUInt16LE(h, 8);
  return b;
}
function webp(w: number, h: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUIntLE(w - 1, 24, 3);
  b.writeUIntLE(h - 1, 27, 3);
  return b;
}
const dataUrl = (b: Buffer, type = 'image/png') => `data:${type};base64,${b.toString('base64')}`;

describe('image dimensions', () => {
  it('reads width and height from PNG, JPEG, GIF and WebP headers', () => {
    expect(imageSize(png(1024, 768))).toEqual({ w: 1024, h: 768 });
    expect(imageSize(jpeg(4000, 3000))).toEqual({ w: 4000, h: 3000 });
    expect(imageSize(gif(320, 200))).toEqual({ w: 320, h: 200 });
    expect(imageSize(webp(1600, 900))).toEqual({ w: 1600, h: 900 });
    expect(imageSize(Buffer.from('not an image at all, just text'))).toBeUndefined();
  });
});

describe('OpenAI image tokens', () => {
  it('follows the tile rule on tile models: low is 85, high is 85 + 170 per 512 px tile after resizing', () => {
    expect(openaiImageTokens('gpt-4o', dataUrl(png(4000, 3000)), 'low')).toBe(85);
    expect(openaiImageTokens('gpt-4o', dataUrl(png(1024, 1024)), 'high')).toBe(85 + 170 * 4); // → 768 × 768
    expect(openaiImageTokens('gpt-4o', dataUrl(png(2048, 4096)), 'auto')).toBe(85 + 170 * 6); // → 1024 × 2048 → 768 × 1536
    expect(openaiImageTokens('gpt-4o', dataUrl(png(100, 100)), undefined)).toBe(85 + 170);
  });

  it("charges gpt-4o-mini's larger per-image counts, and the largest rule for a name it does not know", () => {
    expect(openaiImageTokens('gpt-4o-mini', dataUrl(png(1024, 1024)), 'high')).toBe(2_833 + 5_667 * 4);
    expect(openaiImageTokens('smart-alias', dataUrl(png(1024, 1024)), 'high')).toBe(2_833 + 5_667 * 4);
  });

  it('charges the stated maximum for a remote image whose size is unknown', () => {
    expect(openaiImageTokens('gpt-4o', 'https://example.com/cat.png', 'high')).toBe(85 + 170 * 8);
  });

  it('counts a data: payload that is not an image as text, never as free', () => {
    const fake = `data:image/png;base64,${'QUJD'.repeat(25_000)}`;
    expect(openaiImageTokens('gpt-4o', fake, 'low')).toBeGreaterThanOrEqual(fake.length);
  });
});

describe('Anthropic image tokens', () => {
  it('is width × height / 750 after resizing, at most the stated maximum', () => {
    expect(anthropicImageTokens({ type: 'base64', media_type: 'image/png', data: png(200, 200).toString('base64') })).toBe(Math.ceil((200 * 200) / 750) + 1);
    expect(anthropicImageTokens({ type: 'base64', media_type: 'image/jpeg', data: jpeg(8000, 8000).toString('base64') })).toBeLessThanOrEqual(ANTHROPIC_IMAGE_MAX);
    expect(anthropicImageTokens({ type: 'url', url: 'https://example.com/a.png' })).toBe(ANTHROPIC_IMAGE_MAX);
  });
});

describe('audio tokens', () => {
  it('bounds a WAV by its duration and anything else by bytes at the lowest bitrate', () => {
    const h = Buffer.alloc(44);
    h.write('RIFF', 0, 'latin1');
    h.write('WAVEfmt ', 8, 'latin1');
    h.writeUInt32LE(32_000, 28); // bytes per second
    const wav = Buffer.concat([h, Buffer.alloc(320_000)]).toString('base64'); // 10 s
    expect(audioTokens(wav)).toBeGreaterThanOrEqual(100);
    expect(audioTokens(wav)).toBeLessThan(120);
    expect(audioTokens(Buffer.alloc(10_000).toString('base64'))).toBeGreaterThanOrEqual(100); // 10 s at 8 kbit/s
  });
});

describe('media in a request', () => {
  it('prices an image part by its structure wherever base64-looking text appears', () => {
    const image = { type: 'image_url', image_url: { url: dataUrl(Buffer.concat([png(512, 512), Buffer.alloc(200_000)])), detail: 'high' } };
    const call = parseCall('chat', { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, image] }] });
    expect(call.promptTokensEstimate).toBeGreaterThanOrEqual(85 + 170);
    expect(call.promptTokensEstimate).toBeLessThan(400);
  });
});

describe('media priced for the model that answers', () => {
  it('re-prices images for a target model that bills them differently, and nothing else', () => {
    const image = { type: 'image_url', image_url: { url: dataUrl(png(1024, 1024)), detail: 'high' } };
    const call = parseCall('chat', { model: 'gpt-4o', messages: [{ role: 'user', content: [image] }] });
    expect(call.promptTokensFor('gpt-4o')).toBe(call.promptTokensEstimate);
    expect(call.promptTokensFor('gpt-4o-mini') - call.promptTokensEstimate).toBe(2_833 + 5_667 * 4 - (85 + 170 * 4));
    const text = parseCall('chat', { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(text.promptTokensFor('gpt-4o-mini')).toBe(text.promptTokensEstimate);
  });
});
