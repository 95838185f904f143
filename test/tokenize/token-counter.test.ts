import { afterEach, describe, expect, it } from 'vitest';
import { byteBound } from '../../src/tokenize/bounded-pieces.js';
import type { TokenCounter } from '../../src/tokenize/token-counter.js';

// The pool runs dist/tokenize/worker.js: the counter is the built one (npx tsc first).
const { TokenCounter: BuiltCounter } = (await import(new URL('../../dist/tokenize/token-counter.js', import.meta.url).href)) as { TokenCounter: typeof TokenCounter };

// The tokenizer pool behind our own counts: every count comes back, exact
// or, past its timeout, the byte bound; tasks started together share one
// timeout signal (token-counter.ts #deadline), which must neither leak
// listeners nor warn however many tasks are in flight.

let counter: TokenCounter | undefined;
afterEach(async () => {
  await counter?.close();
  counter = undefined;
});

describe('TokenCounter', () => {
  it('counts many texts in flight at once, each exactly, without a listener warning', async () => {
    counter = new BuiltCounter(1);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const texts = Array.from({ length: 60 }, (_, i) => `word ${i} `.repeat(i + 1));
      const results = await Promise.all(texts.map((t) => counter!.count('gpt-4o-mini', [t])));
      expect(results.every((r) => r.exact)).toBe(true);
      expect(results.every((r) => Number.isInteger(r.counts[0]) && r.counts[0]! > 0)).toBe(true);
      const again = await counter.count('gpt-4o-mini', [texts[59]!]);
      expect(again.counts[0]).toBe(results[59]!.counts[0]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('answers the byte bound for a task its timeout dropped', async () => {
    // The pool's worker cannot even start within 1 ms (plus one slice of the shared signal).
    counter = new BuiltCounter(1, { budgetMs: 1000, timeoutMs: 1 });
    const text = 'a fairly ordinary sentence. '.repeat(2000);
    const r = await counter.count('gpt-4o-mini', [text]);
    expect(r).toEqual({ counts: [byteBound(text)], exact: false });
  });
});
