import { randomBytes } from 'node:crypto';

import { NOT_IDEMPOTENT } from '../../platform/cassandra/client.js';
import { loadConfig } from '../../platform/config.js';
import { keyspaceOf, QUEUES, SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { migrateAll } from '../../tools/migrate.js';
import { eventually } from './client.js';
import { TEST_ENV } from './env.js';
import { cassandraFor, removeBrokerTopology } from './infra.js';

export interface IsolatedNamespace {
  namespace: string;
  /** The test environment with the namespace and an exchange of its own. */
  env: NodeJS.ProcessEnv;
  /** Drops its queues and exchanges and, unless `keyspaces` is false, its keyspaces. */
  remove(options?: { keyspaces?: boolean }): Promise<void>;
}

/**
 * A twtr of a test's own beside the shared one: keyspaces and queues prefixed (TWTR_NAMESPACE), its own exchange,
 * keyspaces migrated. `overrides` adds to the environment (limits, links through a proxy).
 */
export async function isolatedNamespace(prefix: string, overrides: NodeJS.ProcessEnv = {}): Promise<IsolatedNamespace> {
  const namespace = `${prefix}${randomBytes(4).toString('hex')}_`;
  const exchange = `twtr.test.${namespace}`;
  const env = { ...process.env, ...TEST_ENV, TWTR_NAMESPACE: namespace, AMQP_EXCHANGE: exchange, ...overrides };
  await migrateAll(loadConfig(env));
  return {
    namespace,
    env,
    remove: async ({ keyspaces = true } = {}) => {
      await removeBrokerTopology({ queues: QUEUES.map((queue) => `${namespace}${queue}`), exchange });
      if (!keyspaces) return;
      const admin = await cassandraFor('system');
      // One coordinator for every drop (see migrateKeyspace), asked again while a node just back is still catching up.
      const host = admin.hosts.values().find((node) => node.isUp());
      for (const name of SUBGRAPH_NAMES)
        await eventually(
          () => admin.execute(`DROP KEYSPACE IF EXISTS ${keyspaceOf(name, namespace)}`, [], { ...NOT_IDEMPOTENT, host }),
          { timeoutMs: 30_000, intervalMs: 2_000 },
        );
      await admin.shutdown();
    },
  };
}
