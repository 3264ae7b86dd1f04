import { describe, expect, it } from 'vitest';

import { Rounds } from '../../platform/concurrently.js';
import { DependencyUnavailableError } from '../../platform/infrastructure-errors.js';

describe('Rounds', () => {
  it('writes what arrives at once in one round, and what arrives meanwhile in the next, at most roundSize each', async () => {
    const written: number[][] = [];
    let release!: () => void;
    const rounds = new Rounds<number>(async (items) => {
      written.push(items);
      if (written.length === 1) await new Promise<void>((resolve) => (release = resolve));
    }, 3);
    const first = [rounds.add([1]), rounds.add([2])];
    await new Promise((resolve) => setImmediate(resolve));
    const meanwhile = [rounds.add([3, 4]), rounds.add([5]), rounds.add([6, 7])];
    expect(written).toEqual([[1, 2]]);
    release();
    await Promise.all([...first, ...meanwhile]);
    expect(written).toEqual([
      [1, 2],
      [3, 4, 5],
      [6, 7],
    ]);
  });

  it('fails only the callers of a failed round, also when the write throws at once, and goes on', async () => {
    const rounds = new Rounds<string>((items) => {
      if (items.includes('bad')) throw new Error('refused');
      return Promise.resolve();
    }, 1);
    const outcomes = await Promise.allSettled([rounds.add(['ok']), rounds.add(['bad']), rounds.add(['fine'])]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    await expect(rounds.add(['later'])).resolves.toBeUndefined();
  });

  it('writes a round refused for its content again item by item, so one bad item fails alone; not when a dependency is away', async () => {
    const writes: string[][] = [];
    const refusing = new Rounds<string>(async (items) => {
      writes.push(items);
      if (items.includes('bad')) throw new Error('refused');
    }, 3);
    const outcomes = await Promise.allSettled([refusing.add(['a']), refusing.add(['bad']), refusing.add(['c'])]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);

    let attempts = 0;
    const away = new Rounds<string>(async () => {
      attempts++;
      throw new DependencyUnavailableError('Cassandra is away');
    }, 3);
    const waited = await Promise.allSettled([away.add(['a']), away.add(['b'])]);
    expect(waited.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected']);
    expect(attempts).toBe(1);
  });

  it('settles a caller once every one of its items is written', async () => {
    const written: number[] = [];
    const rounds = new Rounds<number>(async (items) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      written.push(...items);
    }, 2);
    await rounds.add([1, 2, 3, 4, 5]);
    expect(written).toEqual([1, 2, 3, 4, 5]);
    await expect(rounds.add([])).resolves.toBeUndefined();
  });
});
