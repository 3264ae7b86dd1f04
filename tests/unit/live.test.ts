import { describe, expect, it } from 'vitest';

import type { EventBus } from '../../platform/messaging/bus.js';
import { LiveFeed } from '../../subgraphs/feed/src/live.js';
import { referenceOf } from '../../subgraphs/feed/src/model.js';

/** An in-memory stand-in for the bus's live broadcast: this tests the feed's delivery rules, not RabbitMQ. */
function loopbackBus() {
  const handlers: ((payload: unknown) => void)[] = [];
  const bus = {
    subscribeLive: async (_topic: string, handle: (payload: unknown) => void) => void handlers.push(handle),
    publishLive: async (_topic: string, payload: unknown) => handlers.forEach((handle) => handle(structuredClone(payload))),
  };
  return bus as unknown as EventBus;
}

const tweet = (n: number) => ({ tweetId: `t${n}`, authorId: 'author' });

describe('live feed delivery', () => {
  it('hands each subscriber its own items once, and skips items that no longer exist', async () => {
    const live = new LiveFeed(loopbackBus(), { stillExists: async (item) => item.tweetId !== 't2' });
    await live.start();
    const alice = live.subscribe('alice', referenceOf);
    const bob = live.subscribe('bob', referenceOf);
    await live.announce(tweet(1), ['alice']);
    await live.announce(tweet(1), ['alice', 'bob']); // a redelivery: alice already has it
    await live.announce(tweet(2), ['alice']); // deleted meanwhile
    await live.announce(tweet(3), ['alice']);
    expect([await alice.next(), await alice.next()]).toEqual([
      { done: false, value: { id: 't1', authorId: 'author' } },
      { done: false, value: { id: 't3', authorId: 'author' } },
    ]);
    expect(await bob.next()).toEqual({ done: false, value: { id: 't1', authorId: 'author' } });
    expect(live.size).toBe(2);
    await alice.return!();
    await bob.return!();
    expect(live.size).toBe(0);
  });

  it('hands the subscribers of one announcement one object per item (their executions of it are shared)', async () => {
    const live = new LiveFeed(loopbackBus(), { stillExists: async () => true });
    await live.start();
    const [alice, bob] = [live.subscribe('alice', referenceOf), live.subscribe('bob', referenceOf)];
    await live.announce(tweet(1), ['alice', 'bob']);
    const [a, b] = [await alice.next(), await bob.next()];
    expect(a.value).toEqual({ id: 't1', authorId: 'author' });
    expect(b.value).toBe(a.value);
  });

  it('cuts off a subscriber that falls too far behind, with a reason', async () => {
    const live = new LiveFeed(loopbackBus(), { bufferSize: 3, stillExists: async () => true });
    await live.start();
    const slow = live.subscribe('slow', referenceOf);
    for (let n = 0; n < 5; n++) await live.announce(tweet(n), ['slow']);
    await expect(slow.next()).rejects.toThrow(/too far behind/);
    expect(live.size).toBe(0);
  });
});
