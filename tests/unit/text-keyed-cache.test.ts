import { describe, expect, it } from 'vitest';

import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';

describe('caches keyed by text a client chose', () => {
  it('never keeps a key longer than an entry may be', () => {
    const cache = textKeyedCache<string>({ maxEntries: 10, maxCharacters: 1_000, maxEntryCharacters: 100 });
    cache.set('x'.repeat(101), 'too long');
    cache.set('x'.repeat(100), 'fits');
    expect(cache.has('x'.repeat(101))).toBe(false);
    expect(cache.get('x'.repeat(100))).toBe('fits');
  });

  it('holds at most so many characters of keys, dropping the least recently used first', () => {
    const cache = textKeyedCache<number>({ maxEntries: 1_000, maxCharacters: 1_000 });
    const key = (n: number) => `${n}`.padEnd(15, '.');
    for (let n = 0; n < 66; n++) cache.set(key(n), n);
    // 66 keys of 15 characters is 990; one more goes over, and the oldest makes room.
    cache.get(key(0));
    cache.set(key(66), 66);
    expect(cache.calculatedSize).toBeLessThanOrEqual(1_000);
    expect(cache.has(key(0))).toBe(true);
    expect(cache.has(key(1))).toBe(false);
    expect(cache.get(key(66))).toBe(66);
  });

  it('holds at most so many entries, however short', () => {
    const cache = textKeyedCache<number>({ maxEntries: 3, maxCharacters: 1_000 });
    for (let n = 0; n < 5; n++) cache.set(`${n}`, n);
    expect([...cache.keys()].sort()).toEqual(['2', '3', '4']);
  });

  it('counts what a value weighs beside its key, so parsed documents cannot outweigh their texts unseen', () => {
    const cache = textKeyedCache<string[]>({
      maxEntries: 1_000,
      maxCharacters: 1_000,
      maxEntryCharacters: 200,
      valueSize: (nodes) => nodes.join('').length,
    });
    for (let n = 0; n < 20; n++) cache.set(`k${n}`, ['x'.repeat(90)]);
    expect(cache.calculatedSize).toBeLessThanOrEqual(1_000);
    expect(cache.size).toBe(10); // 10 entries of 2-3 + 90 characters; a key-only count would have kept all 20
  });
});
