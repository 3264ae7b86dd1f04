import { describe, expect, it } from 'vitest';

import { AsyncQueue, mapAsyncIterator, SKIP } from '../../platform/async-iterators.js';

const take = async <T>(iterator: AsyncIterator<T>, count: number) => {
  const values: T[] = [];
  for (let i = 0; i < count; i++) values.push((await iterator.next()).value as T);
  return values;
};

describe('AsyncQueue', () => {
  it('hands pushed items to the consumer in order, whether it is waiting or not', async () => {
    const queue = new AsyncQueue<number>(10);
    const waiting = queue.next();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(await waiting).toEqual({ done: false, value: 1 });
    expect(await take(queue, 2)).toEqual([2, 3]);
  });

  it('refuses items beyond its capacity', () => {
    const queue = new AsyncQueue<number>(2);
    expect([queue.push(1), queue.push(2), queue.push(3)]).toEqual([true, true, false]);
    expect(queue.length).toBe(2);
  });

  it('ends once, for a waiting consumer too, and runs onEnd once', async () => {
    let ends = 0;
    const queue = new AsyncQueue<number>(2, () => ends++);
    const waiting = queue.next();
    await queue.return();
    await queue.return();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(await queue.next()).toEqual({ done: true, value: undefined });
    expect(queue.push(1)).toBe(false);
    expect(ends).toBe(1);
  });

  it('fails a waiting consumer at once, and a later one, then ends', async () => {
    let ends = 0;
    const waitingQueue = new AsyncQueue<number>(2, () => ends++);
    const waiting = waitingQueue.next();
    waitingQueue.fail(new Error('too far behind'));
    await expect(waiting).rejects.toThrow('too far behind');

    const laterQueue = new AsyncQueue<number>(2, () => ends++);
    laterQueue.push(1);
    laterQueue.fail(new Error('too far behind'));
    await expect(laterQueue.next()).rejects.toThrow('too far behind');
    expect(await laterQueue.next()).toEqual({ done: true, value: undefined });
    expect(ends).toBe(2);
  });

  it('ends after what it holds has been read, with the error it was ended with', async () => {
    let ends = 0;
    const queue = new AsyncQueue<number>(5, () => ends++);
    queue.push(1);
    queue.push(2);
    queue.end(new Error('connection lost'));
    expect(queue.push(3)).toBe(false);
    expect(await take(queue, 2)).toEqual([1, 2]);
    expect(ends).toBe(0);
    await expect(queue.next()).rejects.toThrow('connection lost');
    expect(await queue.next()).toEqual({ done: true, value: undefined });

    const waitingQueue = new AsyncQueue<number>(5, () => ends++);
    const waiting = waitingQueue.next();
    waitingQueue.end();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(ends).toBe(2);
  });
});

describe('mapAsyncIterator', () => {
  it('maps values and drops the skipped ones', async () => {
    const queue = new AsyncQueue<number>(10);
    for (const n of [1, 2, 3, 4]) queue.push(n);
    const evens = mapAsyncIterator(queue, (n) => (n % 2 === 0 ? n * 10 : SKIP));
    expect(await take(evens, 2)).toEqual([20, 40]);
  });

  it('passes return() to its source and runs onEnd once however it ends', async () => {
    let ends = 0;
    let sourceEnded = false;
    const source = new AsyncQueue<number>(10, () => (sourceEnded = true));
    const mapped = mapAsyncIterator(
      source,
      (n) => n,
      () => ends++,
    );
    await mapped.return!();
    await mapped.return!();
    expect([sourceEnded, ends]).toEqual([true, 1]);

    const failing = new AsyncQueue<number>(10);
    const failingMapped = mapAsyncIterator(
      failing,
      (n) => n,
      () => ends++,
    );
    failing.fail(new Error('broken'));
    await expect(failingMapped.next()).rejects.toThrow('broken');
    expect(ends).toBe(2);

    const exhausted = (async function* () {
      yield 1;
    })();
    const exhaustedMapped = mapAsyncIterator(
      exhausted,
      (n) => n,
      () => ends++,
    );
    expect(await take(exhaustedMapped, 2)).toEqual([1, undefined]);
    expect(ends).toBe(3);
  });

  it('ends when the mapping throws, and lets its source go (a reader of a failed iterator does not return it)', async () => {
    let ends = 0;
    let sourceEnded = 0;
    const source = new AsyncQueue<number>(10, () => sourceEnded++);
    source.push(1);
    const mapped = mapAsyncIterator(
      source,
      () => Promise.reject(new Error('cannot map')),
      () => ends++,
    );
    await expect(mapped.next()).rejects.toThrow('cannot map');
    // On a subscription, the source is the upstream one and its place on the shared connection: before, both stayed.
    await expect.poll(() => sourceEnded).toBe(1);
    expect(ends).toBe(1);
  });

  it('maps a mapping as one: both maps in order, either may skip, the outer ending and wording it', async () => {
    let ends = 0;
    let sourceEnded = 0;
    const source = new AsyncQueue<number>(10, () => sourceEnded++);
    for (const n of [1, 2, 3, 4, 5, 6]) source.push(n);
    const inner = mapAsyncIterator(source, async (n) => (n === 3 ? SKIP : n * 10));
    const outer = mapAsyncIterator(
      inner,
      (n) => (n === 20 ? SKIP : `v${n}`),
      () => ends++,
      (error) => new Error(`worded: ${(error as Error).message}`),
    );
    expect(await take(outer, 3)).toEqual(['v10', 'v40', 'v50']);
    await outer.return!();
    expect([ends, sourceEnded]).toEqual([1, 1]);

    // A failure of the inner mapping is the outer's to word and end, and lets the source go.
    const failingSource = new AsyncQueue<number>(10, () => sourceEnded++);
    failingSource.push(1);
    const failing = mapAsyncIterator(
      mapAsyncIterator(failingSource, () => Promise.reject(new Error('cannot map'))),
      (n) => n,
      () => ends++,
      (error) => new Error(`worded: ${(error as Error).message}`),
    );
    await expect(failing.next()).rejects.toThrow('worded: cannot map');
    await expect.poll(() => sourceEnded).toBe(2);
    expect(ends).toBe(2);
  });

  it('does not fold a mapping that ends with work of its own', async () => {
    let innerEnds = 0;
    const source = new AsyncQueue<number>(10);
    for (const n of [1, 2, 3]) source.push(n);
    const inner = mapAsyncIterator(
      source,
      (n) => n * 10,
      () => innerEnds++,
    );
    const outer = mapAsyncIterator(inner, (n) => n + 1);
    expect(await take(outer, 2)).toEqual([11, 21]);
    await outer.return!();
    expect(innerEnds).toBe(1);
  });
});
