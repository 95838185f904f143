import { describe, expect, it } from 'vitest';
import { LinkedList, type Linked } from '../../src/collections/linked-list.js';

class Item implements Linked<Item> {
  prev: Item | undefined = undefined;
  next: Item | undefined = undefined;
  listed = false;
  constructor(readonly n: number) {}
}

const walk = (l: LinkedList<Item>) => {
  const out: number[] = [];
  for (let i = l.first; i; i = i.next) out.push(i.n);
  return out;
};

describe('LinkedList (a list through its items)', () => {
  it('keeps insertion order through removals at the head, middle and tail', () => {
    const l = new LinkedList<Item>();
    const items = [0, 1, 2, 3, 4].map((n) => new Item(n));
    for (const i of items) l.push(i);
    expect(walk(l)).toEqual([0, 1, 2, 3, 4]);
    expect(l.remove(items[2]!)).toBe(true);
    expect(l.remove(items[0]!)).toBe(true);
    expect(l.remove(items[4]!)).toBe(true);
    expect(walk(l)).toEqual([1, 3]);
    expect(l.size).toBe(2);
    l.push(items[0]!);
    expect(walk(l)).toEqual([1, 3, 0]);
  });

  it('ignores a second push and a second remove, and clears the links of what it removes', () => {
    const l = new LinkedList<Item>();
    const a = new Item(1);
    const b = new Item(2);
    l.push(a);
    l.push(b);
    l.push(a);
    expect(l.size).toBe(2);
    expect(l.remove(a)).toBe(true);
    expect(l.remove(a)).toBe(false);
    expect([a.prev, a.next, a.listed]).toEqual([undefined, undefined, false]);
    expect(l.remove(b)).toBe(true);
    expect([l.first, l.size]).toEqual([undefined, 0]);
  });

  it('lets a sweep remove the item it stands on', () => {
    const l = new LinkedList<Item>();
    for (let n = 0; n < 6; n++) l.push(new Item(n));
    for (let i = l.first; i; ) {
      const next = i.next;
      if (i.n % 2 === 0) l.remove(i);
      i = next;
    }
    expect(walk(l)).toEqual([1, 3, 5]);
  });
});
