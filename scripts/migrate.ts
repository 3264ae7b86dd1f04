import { KEYSPACES, migrateKeyspace, MIGRATIONS_DIR } from '../migrations/runner.js';
import { connectCassandra } from '../platform/cassandra/client.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { keyspaceOf } from '../platform/manifest.js';

/** Applies every keyspace's pending migrations (npm run migrate; also run by npm start and the test setup). */
export async function migrateAll(config = loadConfig()): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL, { component: 'migrate' });
  const client = await connectCassandra(config);
  try {
    for (const name of KEYSPACES) {
      await migrateKeyspace(
        client,
        keyspaceOf(name, config.TWTR_NAMESPACE),
        config.CASSANDRA_REPLICATION,
        logger,
        MIGRATIONS_DIR,
        name,
      );
    }
  } finally {
    await client.shutdown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await migrateAll();
}
