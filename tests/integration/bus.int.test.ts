import { randomUUID } from 'node:crypto';

import type amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';

import { connectToAnyBroker } from '../../platform/messaging/brokers.js';
import type { EventBus } from '../../platform/messaging/bus.js';
import { createEvent, type DomainEvent } from '../../platform/messaging/events.js';
import { eventually } from '../support/client.js';
import { busOn, removeBrokerTopology, testConfig } from '../support/infra.js';

const exchange = `twtr.test.${randomUUID()}`;
const queues: string[] = [];
const buses: EventBus[] = [];

afterAll(async () => {
  await Promise.all(buses.map((bus) => bus.close()));
  await removeBrokerTopology({ queues, exchange });
});

async function openBus() {
  const bus = await busOn(exchange);
  buses.push(bus);
  return bus;
}

const followCreated = (n: number) =>
  createEvent(
    'follow.created',
    { followerId: `f${n}`, followeeId: 'x', createdAt: new Date().toISOString(), version: n },
    { correlationId: `c${n}` },
  );

/** How many messages wait ready in the queue (unacknowledged ones count once their consumer has closed). */
async function waitingIn(queue: string): Promise<number> {
  const connection = await connectToAnyBroker(testConfig().AMQP_URL);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/** A queue of its own, declared, with `count` events published and waiting in it before anyone consumes. */
async function eventsWaitingIn(name: string, count = 5) {
  const publisher = await openBus();
  const queue = `test.${name}.${randomUUID()}`;
  queues.push(queue);
  await publisher.declare({ queue, events: ['follow.created'] });
  const published = Array.from({ length: count }, (_, n) => followCreated(n));
  for (const event of published) await publisher.publish(event);
  return { queue, published };
}

describe('the event bus on RabbitMQ', () => {
  it('delivers confirmed events in publish order to the bound queue only', async () => {
    const bus = await openBus();
    const queue = `test.ordered.${randomUUID()}`;
    queues.push(queue);
    const received: DomainEvent[] = [];
    await bus.subscribe({ queue, events: ['follow.created'], handle: async (event) => void received.push(event) });

    const published = Array.from({ length: 20 }, (_, n) => followCreated(n));
    await bus.publish(
      createEvent('tweet.created', { tweetId: 't', authorId: 'a', text: 'not bound', createdAt: '' }, { correlationId: 'c' }),
    );
    for (const event of published) await bus.publish(event);

    await eventually(async () => expect(received).toHaveLength(20));
    expect(received).toEqual(published);
  });

  it('keeps what is published for a queue declared but not yet consumed, for whoever consumes it later', async () => {
    const { queue, published } = await eventsWaitingIn('declared');

    const received: DomainEvent[] = [];
    await (await openBus()).subscribe({ queue, events: ['follow.created'], handle: async (event) => void received.push(event) });
    await eventually(async () => expect(received).toEqual(published));
  });

  it('keeps the queue order when an event fails and is tried again', async () => {
    // All five wait in the queue, so the consumer has the ones behind the failing event in hand when it fails.
    const { queue, published } = await eventsWaitingIn('retried');

    const handled: string[] = [];
    let failed = false;
    await (
      await openBus()
    ).subscribe({
      queue,
      events: ['follow.created'],
      handle: async (event) => {
        if (event.id === published[1].id && !failed) {
          failed = true;
          throw new Error('not this time');
        }
        handled.push(event.id);
      },
    });
    await eventually(async () => expect(handled).toHaveLength(5));
    expect(failed).toBe(true);
    expect(handled).toEqual(published.map((event) => event.id));
  });

  it('dead-letters a message that keeps failing and goes on with the next', async () => {
    const bus = await openBus();
    const queue = `test.poison.${randomUUID()}`;
    queues.push(queue);
    const poison = followCreated(1);
    const healthy = followCreated(2);
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    await bus.subscribe({
      queue,
      events: ['follow.created'],
      deliveryLimit: 2,
      handle: async (event) => {
        attempts.set(event.id, (attempts.get(event.id) ?? 0) + 1);
        if (event.id === poison.id) throw new Error('cannot handle this one');
        handled.push(event.id);
      },
    });
    await bus.publish(poison);
    await bus.publish(healthy);

    await eventually(async () => expect(handled).toEqual([healthy.id]));
    const connection = await connectToAnyBroker(testConfig().AMQP_URL);
    const channel = await connection.createChannel();
    const dead = await eventually(async () => {
      const message = await channel.get(`${queue}.dead`, { noAck: true });
      expect(message).not.toBe(false);
      return message as amqp.GetMessage;
    });
    await connection.close();
    expect(JSON.parse(dead.content.toString()).id).toBe(poison.id);
    expect(attempts.get(poison.id)).toBeGreaterThanOrEqual(2);
    expect(attempts.get(poison.id)).toBeLessThanOrEqual(3);
  });
});

describe('messages that are not events', () => {
  it('dead-letters them and goes on, in order, with the events behind them', async () => {
    const bus = await openBus();
    const queue = `test.unreadable.${randomUUID()}`;
    queues.push(queue);
    const handled: DomainEvent[] = [];
    await bus.subscribe({ queue, events: ['follow.created'], handle: async (event) => void handled.push(event) });
    const connection = await connectToAnyBroker(testConfig().AMQP_URL);
    const channel = await connection.createConfirmChannel();
    for (const body of ['not json', 'null', '42', '{"no":"type"}'])
      channel.publish(exchange, 'follow.created', Buffer.from(body), { persistent: true });
    await channel.waitForConfirms();
    const after = followCreated(1);
    await bus.publish(after);

    await eventually(async () => expect(handled).toEqual([after]));
    await connection.close();
    await eventually(async () => expect(await waitingIn(`${queue}.dead`)).toBe(4));
  });
});

describe('a publisher the broker nacks', () => {
  it('goes on publishing, on a new channel, once the broker takes messages again', async () => {
    const bus = await openBus();
    const refusing = `test.nacked.${randomUUID()}`;
    const observed = `test.observed.${randomUUID()}`;
    queues.push(refusing, observed);
    const connection = await connectToAnyBroker(testConfig().AMQP_URL);
    const channel = await connection.createChannel();
    // A queue that refuses what it has no room for: the broker nacks the publish.
    await channel.assertQueue(refusing, {
      durable: true,
      arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish' },
    });
    await channel.assertQueue(observed, { durable: true });
    for (const queue of [refusing, observed]) await channel.bindQueue(queue, exchange, 'follow.created');
    try {
      await bus.publish(followCreated(1));
      await expect(bus.publish(followCreated(2))).rejects.toThrow(/nack/i);
      // Bound to the exchange every test here publishes to: it would refuse their events too.
      await channel.deleteQueue(refusing);
      const third = followCreated(3);
      // What the old channel still held when it was closed fails, and is sent again, as the outbox relay does.
      await eventually(() => bus.publish(third));
      const ids = new Set<string>();
      await eventually(async () => {
        for (let got = await channel.get(observed, { noAck: true }); got; got = await channel.get(observed, { noAck: true }))
          ids.add(JSON.parse(got.content.toString()).id);
        expect(ids).toContain(third.id);
      });
    } finally {
      await channel.deleteQueue(refusing);
      await connection.close();
    }
  });
});

describe('a consumer that stops', () => {
  it('finishes the event it is handling and hands the rest back, so each is handled exactly once', async () => {
    const queue = `test.stop.${randomUUID()}`;
    queues.push(queue);
    const handledBy: [string, string][] = [];
    let startedFirst: () => void = () => undefined;
    const firstStarted = new Promise<void>((resolve) => (startedFirst = resolve));
    const stopping = await busOn(exchange);
    await stopping.subscribe({
      queue,
      events: ['follow.created'],
      handle: async (event) => {
        startedFirst();
        await new Promise((resolve) => setTimeout(resolve, 500));
        handledBy.push(['stopping', event.id]);
      },
    });
    const events = [1, 2, 3].map(followCreated);
    const publisher = await openBus();
    for (const event of events) await publisher.publish(event);
    await firstStarted;
    await stopping.close();
    expect(handledBy).toEqual([['stopping', events[0].id]]);

    const successor = await openBus();
    await successor.subscribe({
      queue,
      events: ['follow.created'],
      handle: async (event) => void handledBy.push(['successor', event.id]),
    });
    await eventually(async () => expect(handledBy).toHaveLength(3));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(handledBy).toEqual([
      ['stopping', events[0].id],
      ['successor', events[1].id],
      ['successor', events[2].id],
    ]);
  });
});

describe('acknowledgements', () => {
  /** A bus of its own consuming the queue, `prefetch` events at a time, in no particular order. */
  async function consumingUnordered(queue: string, prefetch: number, handle: (event: DomainEvent) => Promise<void>) {
    const bus = await busOn(exchange);
    await bus.subscribe({ queue, events: ['follow.created'], ordered: false, prefetch, handle });
    return bus;
  }

  /** Closes the bus, then how many messages wait in the queue once any left unacknowledged are handed back to it. */
  async function leftAfterClosing(bus: EventBus, queue: string): Promise<number> {
    await bus.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    return waitingIn(queue);
  }

  it('acknowledges every handled event and dead-letters the failing one among them', async () => {
    const { queue, published } = await eventsWaitingIn('acked', 40);
    const poison = published[17];
    const handled: string[] = [];
    const bus = await consumingUnordered(queue, 64, async (event) => {
      if (event.id === poison.id) throw new Error('cannot handle this one');
      handled.push(event.id);
    });
    await eventually(async () => expect(handled).toHaveLength(39));
    await eventually(async () => expect(await waitingIn(`${queue}.dead`)).toBe(1), { timeoutMs: 10_000 });

    expect(await leftAfterClosing(bus, queue)).toBe(0);
    expect(new Set(handled).size).toBe(39);
  });

  it('does not hold the acknowledgements of later events behind one still being handled', async () => {
    const { queue, published } = await eventsWaitingIn('held', 12);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    // Four in hand at a time: the last eight arrive only as those behind the first are acknowledged.
    const bus = await consumingUnordered(queue, 4, async (event) => {
      if (event.id === published[0].id) await released;
      handled.push(event.id);
    });
    await eventually(async () => expect(handled).toHaveLength(11));
    expect(handled).not.toContain(published[0].id);
    release();
    await eventually(async () => expect(handled).toHaveLength(12));

    expect(await leftAfterClosing(bus, queue)).toBe(0);
  });

  it('never acknowledges an event it stopped before handling, whatever it acknowledges after it', async () => {
    // The first fails once and waits to be tried again; the consumer stops meanwhile, so it is left for a successor.
    // The second, handled after that, must be acknowledged without taking the first along.
    const { queue, published } = await eventsWaitingIn('stopped', 2);
    const [waiting, slow] = published;
    const handled: string[] = [];
    let startedSlow: () => void = () => undefined;
    const slowStarted = new Promise<void>((resolve) => (startedSlow = resolve));
    const stopping = await busOn(exchange);
    await stopping.subscribe({
      queue,
      events: ['follow.created'],
      ordered: false,
      handle: async (event) => {
        if (event.id === waiting.id) throw new Error('not yet');
        startedSlow();
        await new Promise((resolve) => setTimeout(resolve, 500));
        handled.push(event.id);
      },
    });
    await slowStarted;
    await stopping.close();
    expect(handled).toEqual([slow.id]);

    const successor = await openBus();
    await successor.subscribe({ queue, events: ['follow.created'], handle: async (event) => void handled.push(event.id) });
    await eventually(async () => expect(handled).toEqual([slow.id, waiting.id]));
  });
});
