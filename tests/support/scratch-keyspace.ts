import { copyFileSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { migrateKeyspace, MIGRATIONS_DIR } from '../../migrations/runner.js';
import { type CassandraClient, NOT_IDEMPOTENT } from '../../platform/cassandra/client.js';
import { cassandraFor, testConfig, testLogger } from './infra.js';

/**
 * A keyspace of its own with the same migrations as one of the services' (its tables and its outbox), so a test can
 * run an outbox relay without meeting the services' events. Returns a session on it, and how to close that session
 * and leave the keyspace or drop it too.
 */
export async function scratchKeyspaceLike(
  service: string,
  name: string,
): Promise<{ cassandra: CassandraClient; close(): Promise<void>; drop(): Promise<void> }> {
  const system = await cassandraFor('system', { migrating: true });
  const dir = mkdtempSync(join(tmpdir(), 'twtr-scratch-'));
  mkdirSync(join(dir, name));
  for (const file of readdirSync(join(MIGRATIONS_DIR, service)))
    copyFileSync(join(MIGRATIONS_DIR, service, file), join(dir, name, file));
  await migrateKeyspace(system, name, testConfig().CASSANDRA_REPLICATION, testLogger(), dir);
  await system.shutdown();
  const cassandra = await cassandraFor(name);
  return {
    cassandra,
    close: () => cassandra.shutdown(),
    drop: async () => {
      await cassandra.execute(`DROP KEYSPACE IF EXISTS ${name}`, [], NOT_IDEMPOTENT);
      await cassandra.shutdown();
    },
  };
}
