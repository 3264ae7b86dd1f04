import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CassandraClient } from '../../platform/cassandra/client.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { RateLimiter, RateLimits } from '../../platform/limits/rate-limiter.js';
import { connectEventBus, type EventBus } from '../../platform/messaging/bus.js';
import { createEvent } from '../../platform/messaging/events.js';
import { Outbox, OutboxRelay } from '../../platform/messaging/outbox.js';
import { TweetRepository } from '../../subgraphs/tweets/src/repository.js';
import { TweetsService } from '../../subgraphs/tweets/src/service.js';
import { eventually } from '../support/client.js';
import { removeBrokerTopology, testConfig, testLogger } from '../support/infra.js';
import { scratchKeyspaceLike } from '../support/scratch-keyspace.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * The outbox against the real Cassandra and RabbitMQ, in a scratch keyspace with the same outbox migration the
 * services use, and a bus whose link to RabbitMQ goes through a proxy the test can cut.
 */
describe('the transactional outbox', () => {
  const keyspace = `outbox_test_${Date.now()}`;
  const exchange = `twtr.test.outbox.${randomUUID()}`;
  const queue = `test.outbox.${randomUUID()}`;
  let scratch: Awaited<ReturnType<typeof scratchKeyspaceLike>>;
  let cassandra: CassandraClient;
  let proxy: TcpProxy;
  let publisherBus: EventBus;
  let consumerBus: EventBus;
  let relay: OutboxRelay;
  let outbox: Outbox;
  const received: string[] = [];

  beforeAll(async () => {
    scratch = await scratchKeyspaceLike('tweets', keyspace);
    cassandra = scratch.cassandra;

    const amqpUrl = new URL(testConfig().AMQP_URL);
    proxy = await startTcpProxy(Number(amqpUrl.port || 5672), amqpUrl.hostname);
    const viaProxy = new URL(amqpUrl);
    viaProxy.port = String(proxy.port);
    publisherBus = await connectEventBus({ AMQP_URL: viaProxy.toString(), AMQP_EXCHANGE: exchange }, testLogger());
    consumerBus = await connectEventBus({ AMQP_URL: testConfig().AMQP_URL, AMQP_EXCHANGE: exchange }, testLogger());
    await consumerBus.subscribe({ queue, events: ['tweet.created'], handle: async (event) => void received.push(event.id) });

    relay = new OutboxRelay(cassandra, publisherBus, testLogger(), { pollIntervalMs: 100 });
    outbox = new Outbox(cassandra, relay.nudge);
    relay.start();
  });

  afterAll(async () => {
    await relay?.stop();
    await publisherBus?.close();
    await consumerBus?.close();
    await proxy?.close();
    await scratch?.drop();
    await removeBrokerTopology({ queues: [queue], exchange });
  });

  const tweetCreated = (n: number) =>
    createEvent(
      'tweet.created',
      { tweetId: `t${n}`, authorId: 'a', text: `n${n}`, createdAt: new Date().toISOString() },
      { correlationId: `c${n}` },
    );
  const firstOccurrences = (ids: string[]) => [...new Set(ids)];

  it('publishes committed events in order', async () => {
    const events = [1, 2, 3].map(tweetCreated);
    for (const event of events) await outbox.commit([], [event]);
    await eventually(async () => expect(firstOccurrences(received)).toEqual(events.map((event) => event.id)));
    // Marked published, and every cell of each row still expires: nothing outlives the outbox's TTL.
    const rows = await eventually(async () => {
      const { rows } = await cassandra.execute(
        'SELECT id, published, TTL(payload) AS payload_ttl, TTL(published) AS published_ttl FROM outbox WHERE bucket IN ?',
        [buckets()],
      );
      expect(rows.length).toBeGreaterThanOrEqual(3);
      expect(rows.every((row) => row.get('published'))).toBe(true);
      return rows;
    });
    for (const row of rows) {
      expect(row.get('payload_ttl')).toBeGreaterThan(0);
      expect(row.get('published_ttl')).toBeGreaterThan(0);
    }
  });

  it('accepts posts while RabbitMQ is unreachable and delivers their events, in order, once it is back', async () => {
    received.length = 0;
    const tweets = new TweetsService(
      {
        tweets: new TweetRepository(cassandra),
        outbox,
        rateLimits: new RateLimits(new RateLimiter(cassandra), testConfig()),
        ids: new MintedIds('outbox test'),
      },
      { viewerId: randomUUID(), clientAddress: null, correlationId: 'outbox-test' },
    );
    proxy.cut();
    const posted = [];
    for (let i = 0; i < 5; i++) posted.push(await tweets.post(`posted while the broker is away ${i}`));

    const recorded = (await cassandra.execute('SELECT payload FROM outbox WHERE bucket IN ?', [buckets()])).rows.map((row) =>
      JSON.parse(row.get('payload')),
    );
    const recordedFor = (tweetId: string) => recorded.find((event) => event.data.tweetId === tweetId);
    expect(posted.map((tweet) => recordedFor(tweet.id)?.type)).toEqual(Array(5).fill('tweet.created'));
    expect(received).toEqual([]);

    proxy.restore();
    const expected = posted.map((tweet) => recordedFor(tweet.id).id);
    await eventually(async () => expect(firstOccurrences(received)).toEqual(expected), { timeoutMs: 30_000 });
  });

  it('hands over to another relay when the one holding the lease stops', async () => {
    received.length = 0;
    await relay.stop();
    const successor = new OutboxRelay(cassandra, publisherBus, testLogger(), { pollIntervalMs: 100 });
    relay = successor;
    const events = [9, 10].map(tweetCreated);
    for (const event of events) await new Outbox(cassandra, successor.nudge).commit([], [event]);
    successor.start();
    // Rows are marked published once confirmed: the successor sends only what is new, once.
    await eventually(async () => expect(received).toEqual(events.map((event) => event.id)));
  });
});

function buckets() {
  const now = Math.floor(Date.now() / 60_000);
  return [now - 1, now];
}
