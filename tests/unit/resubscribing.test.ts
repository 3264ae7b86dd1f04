import { describe, expect, it } from 'vitest';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { heldEvents, resubscribing } from '../../router/src/resubscribing.js';
import type { UpstreamSubscriber } from '../../router/src/subgraph-connection.js';

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

/** A subgraph connection: the test plays the subgraph through the subscriber it was given. */
function subgraphClient() {
  const subscribers: UpstreamSubscriber[] = [];
  let disposed = 0;
  return {
    client: {
      subscribe: (_request: unknown, subscriber: UpstreamSubscriber) => String(subscribers.push(subscriber)),
      unsubscribe: () => void disposed++,
    },
    sink: () => subscribers[0],
    disposed: () => disposed,
  };
}

describe('the events held for a subscriber', () => {
  it('are at most a hundred: a subscriber that stops taking them is ended with RATE_LIMITED, upstream too', async () => {
    const { client, sink, disposed } = subgraphClient();
    const events = heldEvents<number>(client, { query: 'subscription { feedItemAdded { id } }' });
    // On main, graphql-ws's iterate() kept all of these for a client whose socket did not read.
    for (let event = 0; event < 10_000; event++) sink().event(event);
    await expect(events.next()).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(disposed()).toBeGreaterThanOrEqual(1);
    expect(await events.next()).toEqual({ done: true, value: undefined });
  });

  it('are all handed over before a lost connection, which resubscribing then answers by subscribing again', async () => {
    const { client, sink } = subgraphClient();
    const events = heldEvents<number>(client, { query: 'subscription { feedItemAdded { id } }' });
    sink().event(1);
    sink().event(2);
    sink().failed(closeEvent);
    expect(await take(events, 2)).toEqual([1, 2]);
    await expect(events.next()).rejects.toEqual(closeEvent);
  });

  it('end a subscription returned by its subscriber upstream', async () => {
    const { client, disposed } = subgraphClient();
    const events = heldEvents<number>(client, { query: 'subscription { feedItemAdded { id } }' });
    await events.return?.();
    expect(disposed()).toBe(1);
  });

  it('end a resubscribing subscription for good when it fell behind', async () => {
    const { client, sink } = subgraphClient();
    let subscriptions = 0;
    const events = resubscribing(() => {
      subscriptions++;
      return { events: heldEvents<number>(client, { query: 'subscription { feedItemAdded { id } }' }, 3), release: () => {} };
    });
    for (let event = 0; event < 4; event++) sink().event(event);
    await expect(events.next()).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(await events.next()).toEqual({ done: true, value: undefined });
    expect(subscriptions).toBe(1);
  });
});

async function take<T>(iterator: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  for (let index = 0; index < count; index++) values.push((await iterator.next()).value as T);
  return values;
}
