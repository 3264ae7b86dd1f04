import { randomUUID } from 'node:crypto';

import { type CassandraClient, connectCassandra, cql } from '../../platform/cassandra/client.js';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import { keyspaceOf, SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { connectToAnyBroker } from '../../platform/messaging/brokers.js';
import { connectEventBus, type EventBus } from '../../platform/messaging/bus.js';
import { createEvent, type DomainEvent, type EventType } from '../../platform/messaging/events.js';

export const testConfig = () => loadConfig();
export const testLogger = () => createLogger('error');

/**
 * A session on one subgraph's keyspace of the real Cassandra (migrated by the global setup), in this run's
 * TWTR_NAMESPACE like the system under test; any other keyspace (`system`, a test's own) as named.
 */
export const cassandraFor = (keyspace: string, options?: Parameters<typeof connectCassandra>[2]): Promise<CassandraClient> => {
  const config = testConfig();
  const subgraph = SUBGRAPH_NAMES.find((name) => name === keyspace);
  return connectCassandra(config, subgraph ? keyspaceOf(subgraph, config.TWTR_NAMESPACE) : keyspace, options);
};

/** A bus on the real RabbitMQ, on its own exchange so tests never see each other's events. */
export const busOn = (exchange: string): Promise<EventBus> =>
  connectEventBus({ ...testConfig(), AMQP_EXCHANGE: exchange }, testLogger());

/** Ready messages and consumers of a queue, as RabbitMQ reports them. */
export async function queueState(queue: string): Promise<{ messages: number; consumers: number }> {
  const connection = await connectToAnyBroker(testConfig().AMQP_URL);
  try {
    const { messageCount, consumerCount } = await (await connection.createChannel()).checkQueue(queue);
    return { messages: messageCount, consumers: consumerCount };
  } finally {
    await connection.close();
  }
}

/** How many messages wait in these queues' dead-letter queues. */
export async function deadLettersIn(queues: readonly string[]): Promise<number> {
  const states = await Promise.all(queues.map((queue) => queueState(`${queue}.dead`)));
  return states.reduce((sum, state) => sum + state.messages, 0);
}

/** Deletes what a test declared on the real RabbitMQ: its queues (with their dead-letter queues) and its exchange. */
export async function removeBrokerTopology({ queues, exchange }: { queues: readonly string[]; exchange: string }): Promise<void> {
  const connection = await connectToAnyBroker(testConfig().AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of queues) {
      await channel.deleteQueue(queue);
      await channel.deleteQueue(`${queue}.dead`);
    }
    for (const suffix of ['', '.dlx', '.live']) await channel.deleteExchange(`${exchange}${suffix}`);
  } finally {
    await connection.close();
  }
}

/**
 * Every event of these types published on the system's exchange from now on, as it is published (a queue of the
 * test's own, gone when closed).
 */
export async function observeEvents<E = DomainEvent>(
  types: readonly (EventType | string)[],
): Promise<{ events: E[]; close(): Promise<void> }> {
  const connection = await connectToAnyBroker(testConfig().AMQP_URL);
  const channel = await connection.createChannel();
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  for (const type of types) await channel.bindQueue(queue, testConfig().AMQP_EXCHANGE, type);
  const events: E[] = [];
  await channel.consume(queue, (message) => message && events.push(JSON.parse(message.content.toString())), { noAck: true });
  return { events, close: () => connection.close() };
}

/** A like of the tweet by a user nobody knows, as engagement publishes one: a storm is made of these. */
export function likeByStranger(tweetId: string, authorId: string, correlationId: string) {
  return createEvent(
    'like.created',
    { tweetId, authorId, userId: randomUUID(), engagedAt: cql.TimeUuid.now().toString(), version: Date.now() * 1_000 },
    { correlationId },
  );
}
