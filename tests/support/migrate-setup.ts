import { migrateAll } from '../../tools/migrate.js';
import { TEST_ENV } from './env.js';

/** Integration tests use the real Cassandra and RabbitMQ directly: they need the keyspaces, not the running system. */
export async function setup() {
  Object.assign(process.env, TEST_ENV);
  await migrateAll();
}
