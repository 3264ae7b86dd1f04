import { type CassandraClient, connectCassandra } from '../../platform/cassandra/client.js';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import { connectEventBus, type EventBus } from '../../platform/messaging/bus.js';

export const testConfig = () => loadConfig();
export const testLogger = () => createLogger('error');

/** A session on one subgraph's keyspace of the real Cassandra (migrated by the global setup). */
export const cassandraFor = (keyspace: string): Promise<CassandraClient> => connectCassandra(testConfig(), keyspace);

/** A bus on the real RabbitMQ, on its own exchange so tests never see each other's events. */
export const busOn = (exchange: string): Promise<EventBus> =>
  connectEventBus({ ...testConfig(), AMQP_EXCHANGE: exchange }, testLogger());
