import { describe, expect, it } from 'vitest';
import { HEAP_GROWING_PERCENT, tuneHeapGrowth } from '../../src/server/heap-growth.js';

describe('tuneHeapGrowth', () => {
  it('sets the heap growth unless the command line or NODE_OPTIONS gives one', () => {
    expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
    expect(tuneHeapGrowth(['--heap-growing-percent=50'], '')).toBe(false);
    expect(tuneHeapGrowth(['--heap_growing_percent=50'], '')).toBe(false);
    expect(tuneHeapGrowth([], '--max-old-space-size=512 --heap-growing-percent=20')).toBe(false);
    expect(tuneHeapGrowth(['--max-old-space-size=512'], '--enable-source-maps')).toBe(true);
  });
});
