import { describe, expect, it } from 'vitest';

import { allSettledValues, WorkBudget } from '../../platform/concurrently.js';

/**
 * Enough turns of the event loop for work waiting on its turn to have started. Counted in turns, not milliseconds: on
 * a busy machine a 10 ms timer could fire before the turns it was meant to outlast (timers run first in a turn).
 */
const tick = async () => {
  for (let turn = 0; turn < 20; turn++) await new Promise((resolve) => setImmediate(resolve));
};

describe('WorkBudget', () => {
  it('runs at most its limit at once, and lets waiting urgent work go ahead of waiting background work', async () => {
    const budget = new WorkBudget(2);
    const started: string[] = [];
    const finish = new Map<string, () => void>();
    let running = 0;
    let mostAtOnce = 0;
    const job = (name: string) => async () => {
      started.push(name);
      mostAtOnce = Math.max(mostAtOnce, ++running);
      await new Promise<void>((resolve) => finish.set(name, resolve));
      running--;
    };
    const all = [
      budget.run('background', job('b1')),
      budget.run('background', job('b2')),
      budget.run('background', job('b3')),
      budget.run('background', job('b4')),
      budget.run('urgent', job('u1')),
    ];
    await tick();
    expect(started).toEqual(['b1', 'b2']);
    finish.get('b1')!();
    await tick();
    expect(started).toEqual(['b1', 'b2', 'u1']);
    for (const name of ['b2', 'u1', 'b3']) {
      finish.get(name)!();
      await tick();
    }
    finish.get('b4')!();
    await Promise.all(all);
    expect(started).toEqual(['b1', 'b2', 'u1', 'b3', 'b4']);
    expect(mostAtOnce).toBe(2);
  });

  it('gives a failed job its place back', async () => {
    const budget = new WorkBudget(1);
    await expect(budget.run('urgent', async () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    expect(await budget.run('background', async () => 'next')).toBe('next');
  });

  it("runs all of a caller's tasks to the end before reporting the first failure", async () => {
    const budget = new WorkBudget(2);
    const finished: number[] = [];
    const tasks = [0, 1, 2, 3].map((n) => async () => {
      await new Promise((resolve) => setTimeout(resolve, 5 * n));
      finished.push(n);
      if (n === 0) throw new Error('first');
    });
    await expect(budget.runAll('urgent', tasks)).rejects.toThrow('first');
    expect(finished.sort()).toEqual([0, 1, 2, 3]);
  });

  it('starts background work one piece per turn of the event loop, so other callbacks run in between', async () => {
    const budget = new WorkBudget(100);
    const order: string[] = [];
    const background = [1, 2, 3].map((n) =>
      budget.run('background', async () => {
        order.push(`work ${n}`);
        // Without turns, works 2 and 3 would start in the same burst as work 1, before this callback.
        if (n === 1) setImmediate(() => order.push('other'));
      }),
    );
    await Promise.all(background);
    expect(order).toEqual(['work 1', 'other', 'work 2', 'work 3']);
  });
});

describe('allSettledValues', () => {
  it('returns every value in order, or throws the first failure only once every promise has settled', async () => {
    expect(await allSettledValues([Promise.resolve(1), Promise.resolve('two')])).toEqual([1, 'two']);
    let slowSettled = false;
    const slow = new Promise<void>((resolve) => setTimeout(resolve, 20)).then(() => void (slowSettled = true));
    await expect(
      allSettledValues([Promise.reject(new Error('first')), slow, Promise.reject(new Error('second'))]),
    ).rejects.toThrow('first');
    expect(slowSettled).toBe(true);
  });
});
