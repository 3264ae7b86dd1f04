import { KEYSPACES, migrateKeyspace } from '../migrations/runner.js';
import { connectCassandra } from '../platform/cassandra/client.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';

/** Applies every keyspace's pending migrations (npm run migrate; also run by npm start and the test setup). */
export async function migrateAll(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, { component: 'migrate' });
  const client = await connectCassandra(config);
  try {
    for (const keyspace of KEYSPACES) await migrateKeyspace(client, keyspace, config.CASSANDRA_REPLICATION, logger);
  } finally {
    await client.shutdown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await migrateAll();
}
