import { KEYSPACES, migrateKeyspace, MIGRATIONS_DIR, pendingMigrations } from '../migrations/runner.js';
import { connectCassandra } from '../platform/cassandra/client.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logging.js';
import { keyspaceOf } from '../platform/manifest.js';

/** Applies every keyspace's pending migrations (npm run migrate; also run by npm start and the test setup). */
export async function migrateAll(config = loadConfig()): Promise<void> {
  const logger = createLogger(config.LOG_LEVEL, { component: 'migrate' });
  const client = await connectCassandra(config, undefined, { migrating: true });
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

/**
 * Waits until every keyspace has every migration this version ships (`migrate --wait`): the init container of each
 * Deployment, so a new version serves only once the migration Job has applied its schema. False on timeout.
 */
export async function waitForMigrations(
  config = loadConfig(),
  { timeoutMs = 600_000, intervalMs = 2_000 } = {},
): Promise<boolean> {
  const logger = createLogger(config.LOG_LEVEL, { component: 'migrate' });
  const client = await connectCassandra(config);
  try {
    for (const deadline = Date.now() + timeoutMs; ;) {
      const pending = await Promise.all(
        KEYSPACES.map(async (name) =>
          (await pendingMigrations(client, keyspaceOf(name, config.TWTR_NAMESPACE), MIGRATIONS_DIR, name)).map(
            (migration) => `${name}/${migration}`,
          ),
        ),
      ).then(
        (lists) => lists.flat(),
        // Reading while the job creates a keyspace or table can fail ("Unknown CF" while the schema settles): not yet.
        (error: Error) => [`(could not read: ${error.message})`],
      );
      if (pending.length === 0) return true;
      if (Date.now() >= deadline) {
        logger.error('migrations still pending; giving up', { pending });
        return false;
      }
      logger.info('waiting for the migration job', { pending });
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  } finally {
    await client.shutdown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--wait')) process.exit((await waitForMigrations()) ? 0 : 1);
  await migrateAll();
}
