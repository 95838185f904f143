import { describe, expect, it } from 'vitest';
import { boundedPieces, byteBound, MAX_PIECE, MAX_RUN } from '../../src/tokenize/bounded-pieces.ts';
import { get_encoding } from '@dqbd/tiktoken';
import count from '../../src/tokenize/worker.ts';

describe('bounded pieces for the tokenizer', () => {
  it('keeps short text whole', () => {
    expect(boundedPieces('hello world')).toEqual(['hello world']);
  });

  it('cuts an unbroken run into pieces no longer than the run limit, losing nothing', () => {
    const s = 'x'.repeat(10_000);
    const p = boundedPieces(s);
    expect(p.join('')).toBe(s);
    expect(Math.max(...p.map((x) => x.length))).toBeLessThanOrEqual(MAX_RUN + 1);
  });

  it('cuts long prose at spaces into pieces no longer than the piece limit', () => {
    const s = 'lorem ipsum dolor sit amet '.repeat(2000);
    const p = boundedPieces(s);
    expect(p.join('')).toBe(s);
    expect(Math.max(...p.map((x) => x.length))).toBeLessThanOrEqual(MAX_PIECE);
    for (const piece of p.slice(1)) expect(piece.startsWith(' ')).toBe(true);
  });

  it('never splits a surrogate pair', () => {
    const s = '😀'.repeat(5000);
    for (const piece of boundedPieces(s)) expect(piece.length % 2).toBe(0);
  });
});

describe('the counting worker', () => {
  it('counts a 1M-character unbroken string without the encoder failing, within the byte bound', () => {
    const s = 'a'.repeat(1_000_000);
    const r = count({ encoding: 'o200k_base', texts: [s], budgetMs: 60_000 });
    expect(r.counts[0]).toBeGreaterThan(0);
    expect(r.counts[0]).toBeLessThanOrEqual(byteBound(s));
  });

  it('counts prose the same as the whole text would (cuts at spaces only)', () => {
    const s = 'The quick brown fox jumps over the lazy dog. '.repeat(300);
    const r = count({ encoding: 'o200k_base', texts: [s], budgetMs: 60_000 });
    expect(r.exact).toBe(true);
    const enc = get_encoding('o200k_base');
    expect(r.counts[0]).toBe(enc.encode_ordinary(s).length);
    enc.free();
  });

  it('bounds what it has no time left for by bytes, and says the count is not exact', () => {
    const s = 'word '.repeat(100_000);
    const r = count({ encoding: 'o200k_base', texts: [s, 'more text'], budgetMs: 0 });
    expect(r.exact).toBe(false);
    expect(r.counts[0]).toBeGreaterThanOrEqual(100_000);
    expect(r.counts[0]).toBeLessThanOrEqual(byteBound(s));
    expect(r.counts[1]).toBe(byteBound('more text'));
  });
});
