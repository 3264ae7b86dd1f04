import { describe, expect, it } from 'vitest';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { resubscribing } from '../../router/src/resubscribing.js';

/** Upstream subscriptions as a shared connection hands them out: each a queue the test feeds or fails. */
function upstream() {
  const opened: AsyncQueue<string>[] = [];
  let held = 0;
  const subscribe = () => {
    const events = new AsyncQueue<string>(10);
    opened.push(events);
    held++;
    return { events, release: () => void held-- };
  };
  return { subscribe, opened, held: () => held };
}

const closeEvent = { code: 1009, reason: 'Message too big' };

describe('a subscription on a shared connection', () => {
  it('subscribes again when its connection is lost, and goes on', async () => {
    const { subscribe, opened, held } = upstream();
    const events = resubscribing(subscribe, { backoffMs: 1 });
    opened[0].push('first');
    expect(await events.next()).toEqual({ done: false, value: 'first' });
    opened[0].fail(closeEvent);
    const next = events.next();
    await expect.poll(() => opened.length).toBe(2);
    opened[1].push('second');
    expect(await next).toEqual({ done: false, value: 'second' });
    expect(held()).toBe(1);
    await events.return?.();
    expect(held()).toBe(0);
  });

  it('ends with the subgraph’s own code when the subgraph refuses it', async () => {
    const { subscribe, opened, held } = upstream();
    const events = resubscribing(subscribe, { backoffMs: 1 });
    opened[0].fail([{ message: 'Only the router may call a subgraph.', extensions: { code: 'UNAUTHENTICATED' } }]);
    await expect(events.next()).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    expect([opened.length, held()]).toEqual([1, 0]);
  });

  it('gives up with SERVICE_UNAVAILABLE after losing its connection again and again with nothing between', async () => {
    const { subscribe, opened, held } = upstream();
    const events = resubscribing(subscribe, { backoffMs: 1, maxAttempts: 3 });
    const next = events.next();
    for (let attempt = 0; attempt < 4; attempt++) {
      await expect.poll(() => opened.length).toBe(attempt + 1);
      opened[attempt].fail(closeEvent);
    }
    await expect(next).rejects.toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE' } });
    expect(held()).toBe(0);
  });

  it('is returned at once while waiting, leaving no place held', async () => {
    const { subscribe, held } = upstream();
    const events = resubscribing(subscribe);
    const pending = events.next();
    await events.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(held()).toBe(0);
  });
});
