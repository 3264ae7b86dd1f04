import { describe, expect, it } from 'vitest';

import { textKeyedAnswers, textKeyedCache } from '../../platform/limits/text-keyed-cache.js';

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

describe('answers kept for whoever asks the same thing meanwhile', () => {
  const MiB = 1 << 20;
  const answers = (ttlMs?: number) =>
    textKeyedAnswers<string>({
      maxEntries: 1_000,
      maxCharacters: 8 * MiB,
      maxEntryCharacters: 2 * MiB,
      ttlMs,
      valueSize: (text) => text.length,
    });

  it('weighs an answer once it arrives: answers of ~1 MiB stay within the bound, the oldest making room', async () => {
    const cache = answers();
    const megabyte = 'x'.repeat(MiB);
    for (let n = 0; n < 20; n++) {
      const answer = Promise.resolve(megabyte);
      cache.set(`k${n}`, answer);
      await answer;
    }
    expect(cache.calculatedSize).toBeLessThanOrEqual(8 * MiB);
    // 7 of 1 MiB and a short key each fit in 8 MiB; weighed by their keys alone, all 20 (20 MiB) would have been kept.
    const kept = Array.from({ length: 20 }, (_, n) => `k${n}`).filter((key) => cache.get(key) !== undefined);
    expect(kept).toEqual(['k13', 'k14', 'k15', 'k16', 'k17', 'k18', 'k19']);
  });

  it('shares an answer while in flight, then drops it if it failed or weighs more than an entry may', async () => {
    const cache = answers();
    const failed = Promise.reject(new Error('the subgraph is away'));
    const heavy = Promise.resolve('x'.repeat(3 * MiB));
    cache.set('failed', failed);
    cache.set('heavy', heavy);
    expect([cache.get('failed'), cache.get('heavy')]).toEqual([failed, heavy]);
    await Promise.allSettled([failed, heavy]);
    expect([cache.get('failed'), cache.get('heavy')]).toEqual([undefined, undefined]);
  });

  it('keeps the time to live an answer had from when it was asked, not from when it arrived', async () => {
    // Margins of 400 ms either side, so a busy machine's late timers cannot make the test pass without the rule.
    const cache = answers(1_000);
    let arrive = (_text: string) => {};
    const answer = new Promise<string>((resolve) => (arrive = resolve));
    cache.set('slow', answer);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(cache.get('slow')).toBe(answer);
    arrive('late');
    await answer;
    // Weighed again on arrival (600 ms of a fresh 1,000 would have kept it), yet gone with its first 1,000 ms.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(cache.get('slow')).toBeUndefined();
  });
});
