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

/** What a subscription hears when its connection closes for a reason that ends its subscriptions. */
const connectionLost = new Error('the subgraph closed the connection: 1009 Message too big');

describe('a subscription on a shared connection', () => {
  it('subscribes again when its connection is lost, and goes on', async () => {
    const { subscribe, opened, held } = upstream();
    const events = resubscribing(subscribe, { backoffMs: 1 });
    opened[0].push('first');
    expect(await events.next()).toEqual({ done: false, value: 'first' });
    opened[0].fail(connectionLost);
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
      opened[attempt].fail(connectionLost);
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
function fakeConnection() {
  const subscribers: UpstreamSubscriber[] = [];
  /** Unsubscribe calls, by id (a real connection ignores an id it no longer holds). */
  const unsubscribes = new Map<string, number>();
  return {
    connection: {
      subscribe: (_request: unknown, subscriber: UpstreamSubscriber) => String(subscribers.push(subscriber)),
      unsubscribe: (id: string) => void unsubscribes.set(id, (unsubscribes.get(id) ?? 0) + 1),
    },
    subscriber: () => subscribers[0],
    unsubscribed: () => [...unsubscribes.keys()],
    unsubscribeCalls: () => [...unsubscribes.values()].reduce((sum, calls) => sum + calls, 0),
  };
}

describe('the events held for a subscriber', () => {
  it('are at most a hundred: a subscriber that stops taking them is ended with RATE_LIMITED, upstream too', async () => {
    const { connection, subscriber, unsubscribed, unsubscribeCalls } = fakeConnection();
    const events = heldEvents<number>(connection, { query: 'subscription { feedItemAdded { id } }' });
    // graphql-ws's iterate() kept all of these for a client whose socket did not read.
    for (let event = 0; event < 10_000; event++) subscriber().event(event);
    await expect(events.next()).rejects.toMatchObject({ extensions: { code: 'RATE_LIMITED' } });
    expect(await events.next()).toEqual({ done: true, value: undefined });
    // At once when it fell behind, and again (ignored) when its reader saw it end: not once per event refused.
    expect(unsubscribed()).toEqual(['1']);
    expect(unsubscribeCalls()).toBe(2);
  });

  it('are all handed over before a lost connection, which resubscribing then answers by subscribing again', async () => {
    const { connection, subscriber } = fakeConnection();
    const events = heldEvents<number>(connection, { query: 'subscription { feedItemAdded { id } }' });
    subscriber().event(1);
    subscriber().event(2);
    subscriber().failed(connectionLost);
    expect(await take(events, 2)).toEqual([1, 2]);
    await expect(events.next()).rejects.toEqual(connectionLost);
  });

  it('end a subscription returned by its subscriber upstream', async () => {
    const { connection, unsubscribed } = fakeConnection();
    const events = heldEvents<number>(connection, { query: 'subscription { feedItemAdded { id } }' });
    await events.return?.();
    expect(unsubscribed()).toEqual(['1']);
  });

  it('end a resubscribing subscription for good when it fell behind', async () => {
    const { connection, subscriber } = fakeConnection();
    let subscriptions = 0;
    const events = resubscribing(() => {
      subscriptions++;
      return { events: heldEvents<number>(connection, { query: 'subscription { feedItemAdded { id } }' }, 3), release: () => {} };
    });
    for (let event = 0; event < 4; event++) subscriber().event(event);
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
