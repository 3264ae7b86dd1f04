import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, connectCassandra } from '../../platform/cassandra/client.js';
import { DependencyUnavailableError } from '../../platform/infrastructure-errors.js';
import { connectEventBus, type EventBus } from '../../platform/messaging/bus.js';
import { createEvent } from '../../platform/messaging/events.js';
import { redriveDeadLetters } from '../../platform/messaging/redrive.js';
import { eventually } from '../support/client.js';
import { busOn, cassandraFor, deadLettersIn, removeBrokerTopology, testConfig, testLogger } from '../support/infra.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A consumer whose handler writes to the real Cassandra through a link the test cuts: an outage of its dependency
 * must be waited out, never dead-lettered; a message that fails on its own content is dead-lettered and can be
 * redriven.
 */
const KEYSPACE = 'twtr_faults';
const exchange = `twtr.test.faults.${randomUUID()}`;
const queues: string[] = [];
let system: CassandraClient;
let proxied: CassandraClient;
let proxy: TcpProxy;
let bus: EventBus;

beforeAll(async () => {
  system = await cassandraFor('system');
  await system.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${KEYSPACE} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await system.execute(`CREATE TABLE IF NOT EXISTS ${KEYSPACE}.applied (event_id text PRIMARY KEY, handled_at timestamp)`);
  proxy = await startTcpProxy(9042);
  proxied = await connectCassandra({ ...testConfig(), CASSANDRA_CONTACT_POINTS: `127.0.0.1:${proxy.port}` }, KEYSPACE);
  bus = await busOn(exchange);
});

afterAll(async () => {
  await bus?.close();
  await removeBrokerTopology({ queues, exchange });
  await proxied?.shutdown();
  await proxy?.close();
  await system?.shutdown();
});

const follow = (n: number) =>
  createEvent(
    'follow.created',
    { followerId: `f${n}`, followeeId: 'x', createdAt: new Date().toISOString(), version: n },
    { correlationId: `fault-${n}` },
  );

async function appliedAmong(ids: string[]): Promise<number> {
  const result = await system.execute(`SELECT event_id FROM ${KEYSPACE}.applied WHERE event_id IN ?`, [ids], { prepare: true });
  return result.rowLength;
}

describe('a consumer whose Cassandra goes away', () => {
  it('holds the events through a 30 s outage, dead-letters none, and applies them all when it is back', async () => {
    const queue = `test.faults.outage.${randomUUID()}`;
    queues.push(queue);
    let attempts = 0;
    await bus.subscribe({
      queue,
      events: ['follow.created'],
      handle: async (event) => {
        attempts++;
        await proxied.execute(`INSERT INTO applied (event_id, handled_at) VALUES (?, toTimestamp(now()))`, [event.id], {
          prepare: true,
        });
      },
    });
    const events = Array.from({ length: 20 }, (_, n) => follow(n));
    proxy.cut();
    for (const event of events) await bus.publish(event);
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    const appliedDuringOutage = await appliedAmong(events.map((event) => event.id));
    const deadDuringOutage = await deadLettersIn([queue]);
    const restoredAt = performance.now();
    proxy.restore();
    await eventually(async () => expect(await appliedAmong(events.map((event) => event.id))).toBe(20), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const recoverySeconds = (performance.now() - restoredAt) / 1000;
    console.info(
      `consumer outage: ${events.length} events sent, ${appliedDuringOutage} applied during the 30 s outage, ` +
        `${await appliedAmong(events.map((event) => event.id))} after, ${await deadLettersIn([queue])} dead-lettered, ` +
        `${attempts} handler attempts, all applied ${recoverySeconds.toFixed(1)} s after the link came back`,
    );
    expect([appliedDuringOutage, deadDuringOutage, await deadLettersIn([queue])]).toEqual([0, 0, 0]);
  }, 90_000);
});

describe('a message that fails on its own content', () => {
  it('is dead-lettered after its tries, and `events:redrive` puts it back once it can be handled', async () => {
    const queue = `test.faults.poison.${randomUUID()}`;
    queues.push(queue);
    const poison = follow(1);
    let fixed = false;
    const handled: string[] = [];
    await bus.subscribe({
      queue,
      events: ['follow.created'],
      deliveryLimit: 2,
      handle: async (event) => {
        if (event.id === poison.id && !fixed) throw new TypeError('cannot handle this one');
        handled.push(event.id);
      },
    });
    await bus.publish(poison);
    await eventually(async () => expect(await deadLettersIn([queue])).toBe(1), { timeoutMs: 20_000 });
    expect(handled).toEqual([]);

    fixed = true;
    const report = await redriveDeadLetters(testConfig().AMQP_URL, queue);
    expect(report).toEqual({ queue, moved: 1, byType: { 'follow.created': 1 } });
    await eventually(async () => expect(handled).toEqual([poison.id]));
    await eventually(async () => expect(await deadLettersIn([queue])).toBe(0));
  }, 60_000);
});

describe('a consumer whose broker link drops while it holds a message', () => {
  /**
   * Publishes `count` events to a queue consumed by a bus of its own, on a broker link the test cuts while the first
   * event is held by a dependency outage (its retries seconds apart by now, the rest prefetched behind it); then waits
   * until every event was handled, and longer than the longest wait between retries, so that a delivery still going on
   * the lost channel would have run again. What each event's id was handled as, in order, and the handler's attempts.
   */
  async function heldWhileRelinked(count: number, options: { singleActiveConsumer?: boolean }) {
    const queue = `test.faults.relinked.${randomUUID()}`;
    queues.push(queue);
    const brokerLink = await startTcpProxy(Number(new URL(testConfig().AMQP_URL).port || 5672));
    const linkedBus = await connectEventBus(
      { ...testConfig(), AMQP_URL: `amqp://guest:guest@127.0.0.1:${brokerLink.port}`, AMQP_EXCHANGE: exchange },
      testLogger(),
    );
    try {
      let dependencyAway = true;
      let attempts = 0;
      const handled: string[] = [];
      await linkedBus.subscribe({
        queue,
        events: ['follow.created'],
        ...options,
        handle: async (event) => {
          attempts++;
          if (dependencyAway) throw new DependencyUnavailableError('held on purpose');
          handled.push(event.id);
        },
      });
      const events = Array.from({ length: count }, (_, n) => follow(n));
      for (const event of events) await bus.publish(event);
      await eventually(async () => expect(attempts).toBeGreaterThanOrEqual(6), { timeoutMs: 10_000 });
      dependencyAway = false;
      brokerLink.cut();
      brokerLink.restore();
      await eventually(async () => expect(new Set(handled).size).toBe(count), { timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      const timesHandled = events.map((event) => handled.filter((id) => id === event.id).length);
      const order = handled.map((id) => events.findIndex((event) => event.id === id));
      console.info(`relinked consumer: ${attempts} handler attempts, handled [${timesHandled}] time(s), order [${order}]`);
      return { handled, published: events.map((event) => event.id) };
    } finally {
      await linkedBus.close();
      await brokerLink.close();
    }
  }

  it('stops retrying it there: the consumer that gets it next handles it, and it is handled once', async () => {
    const { handled, published } = await heldWhileRelinked(1, {});
    expect(handled).toEqual(published);
  }, 60_000);

  it('starts none of those prefetched behind it there: each is handled once, in publish order', async () => {
    const { handled, published } = await heldWhileRelinked(5, { singleActiveConsumer: true });
    expect(handled).toEqual(published);
  }, 60_000);
});

describe('a bus whose broker stops answering while it sets up again after a reconnect', () => {
  it('lets the connection go and reconnects, with its consumers, and the process carries on', async () => {
    const queue = `test.faults.setup-stall.${randomUUID()}`;
    queues.push(queue);
    const brokerLink = await startTcpProxy(Number(new URL(testConfig().AMQP_URL).port || 5672));
    // Heartbeats a second apart: the silent connection is given up within seconds.
    const linkedBus = await connectEventBus(
      { ...testConfig(), AMQP_URL: `amqp://guest:guest@127.0.0.1:${brokerLink.port}?heartbeat=1`, AMQP_EXCHANGE: exchange },
      testLogger(),
    );
    try {
      const handled: string[] = [];
      await linkedBus.subscribe({ queue, events: ['follow.created'], handle: async (event) => void handled.push(event.id) });
      const stalled = brokerLink.stallNextAmqpConnectionAtFirstChannel();
      brokerLink.cut();
      brokerLink.restore();
      await stalled;
      const event = follow(1);
      await bus.publish(event);
      await eventually(async () => expect(handled).toEqual([event.id]), { timeoutMs: 20_000 });
      expect(linkedBus.connected()).toBe(true);
    } finally {
      await linkedBus.close();
      await brokerLink.close();
    }
  }, 60_000);
});
