import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type CassandraClient, NOT_IDEMPOTENT } from '../platform/cassandra/client.js';
import type { Logger } from '../platform/logging.js';
import { SUBGRAPH_NAMES } from '../platform/manifest.js';

/** migrations/<keyspace>/NNN_name.cql, applied in name order; each keyspace belongs to the subgraph of that name. */
export const MIGRATIONS_DIR = new URL('.', import.meta.url).pathname;
/** Each subgraph owns the keyspace of its name (platform/manifest.ts). */
export const KEYSPACES = SUBGRAPH_NAMES;

interface Migration {
  name: string;
  checksum: string;
  statements: string[];
}

export function readMigrations(keyspace: string, dir = MIGRATIONS_DIR): Migration[] {
  const folder = join(dir, keyspace);
  return readdirSync(folder)
    .filter((file) => file.endsWith('.cql'))
    .sort()
    .map((file) => {
      const source = readFileSync(join(folder, file), 'utf8');
      return { name: file, checksum: createHash('sha256').update(source).digest('hex'), statements: splitStatements(source) };
    });
}

/** CQL files hold `;`-terminated statements and `--` comments (no semicolons inside string literals). */
export function splitStatements(source: string): string[] {
  return source
    .split('\n')
    .map((line) => line.replace(/--.*$/, ''))
    .join('\n')
    .split(';')
    .map((statement) => statement.trim())
    .filter(Boolean);
}

/**
 * The migrations of `folder` not yet recorded in the keyspace (all of them when it does not exist yet). Reads only:
 * a new version's pods wait on this until the migration Job has run.
 */
export async function pendingMigrations(client: CassandraClient, keyspace: string, dir = MIGRATIONS_DIR, folder = keyspace) {
  const exists = (
    await client.execute('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?', [
      keyspace,
      'schema_migrations',
    ])
  ).rowLength;
  const applied = exists
    ? new Set(
        (await client.execute(`SELECT name FROM ${keyspace}.schema_migrations`)).rows.map((row) => row.get('name') as string),
      )
    : new Set<string>();
  return readMigrations(folder, dir)
    .map((migration) => migration.name)
    .filter((name) => !applied.has(name));
}

/**
 * Creates the keyspace when missing, then applies the migrations not yet recorded in its schema_migrations table.
 * Running it again changes nothing; a recorded migration whose file changed stops the run (migrations are append-only).
 */
export async function migrateKeyspace(
  client: CassandraClient,
  keyspace: string,
  replication: string,
  logger: Logger,
  dir = MIGRATIONS_DIR,
  /** The folder of migrations under `dir`; defaults to the keyspace's own name. */
  folder = keyspace,
): Promise<string[]> {
  // Schema changes run once each (never retried or speculated, see NOT_IDEMPOTENT), all on one coordinator: on a
  // cluster, a keyspace or table another node has just created may not have reached this one yet ("keyspace does not
  // exist", "Unknown CF"). Agreement is awaited here (untilSchemaAgreed), among the nodes that are up; a session opened
  // with `migrating` skips the driver's own wait after each change, which counts nodes that are down too.
  const coordinator = { host: client.hosts.values().find((host) => host.isUp()) };
  const schemaChange = { ...NOT_IDEMPOTENT, ...coordinator };
  await client.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`, [], schemaChange);
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${keyspace}.schema_migrations (name text PRIMARY KEY, checksum text, applied_at timestamp)`,
    [],
    schemaChange,
  );
  await untilSchemaAgreed(client);
  const applied = new Map(
    (await client.execute(`SELECT name, checksum FROM ${keyspace}.schema_migrations`, [], coordinator)).rows.map((row) => [
      row.get('name') as string,
      row.get('checksum') as string,
    ]),
  );
  const newlyApplied: string[] = [];
  for (const migration of readMigrations(folder, dir)) {
    const recordedChecksum = applied.get(migration.name);
    if (recordedChecksum !== undefined) {
      if (recordedChecksum !== migration.checksum) {
        throw new Error(`${keyspace}/${migration.name} was changed after it was applied; add a new migration instead`);
      }
      continue;
    }
    await client.execute(`USE ${keyspace}`, [], coordinator);
    for (const statement of migration.statements) {
      // Data written by a migration (a checkpoint row) goes to replicas, which must know its table first.
      if (!SCHEMA_CHANGE.test(statement)) await untilSchemaAgreed(client);
      await client.execute(statement, [], schemaChange);
    }
    await untilSchemaAgreed(client);
    await client.execute(
      `INSERT INTO ${keyspace}.schema_migrations (name, checksum, applied_at) VALUES (?, ?, ?)`,
      [migration.name, migration.checksum, new Date()],
      coordinator,
    );
    logger.info('applied migration', { keyspace, migration: migration.name });
    newlyApplied.push(migration.name);
  }
  await untilSchemaAgreed(client);
  return newlyApplied;
}

const SCHEMA_CHANGE = /^\s*(CREATE|ALTER|DROP)\b/i;

/** How long every node may take to learn the schema once migrations are applied (nodes just restarted are slow). */
const SCHEMA_AGREEMENT_TIMEOUT_MS = 120_000;

/**
 * On a cluster, a table one node created is unknown to the others until the schema has spread ("Unknown CF", "keyspace
 * does not exist"); a session opened with `migrating` does not wait for that after each change, the driver's other
 * sessions wait at most 10 s. Nothing uses a keyspace before every node that is up agrees on its schema (a node that is
 * down learns it when it comes back, before it serves).
 */
async function untilSchemaAgreed(client: CassandraClient): Promise<void> {
  const deadline = Date.now() + SCHEMA_AGREEMENT_TIMEOUT_MS;
  const versions = async () => {
    const up = client.hosts.values().filter((host) => host.isUp());
    // Both tables are the asked node's own view: ask one node for both.
    const [host] = up;
    const [local, peers] = await Promise.all([
      client.execute('SELECT schema_version FROM system.local', [], { host }),
      client.execute('SELECT peer, schema_version FROM system.peers', [], { host }),
    ]);
    const upAddresses = new Set(up.map((node) => node.address.replace(/:\d+$/, '')));
    const upPeers = peers.rows.filter((row) => upAddresses.has(String(row.get('peer'))));
    return new Set([...local.rows, ...upPeers].map((row) => String(row.get('schema_version'))));
  };
  while ((await versions()).size > 1) {
    if (Date.now() > deadline) throw new Error('the cluster did not agree on the schema in time');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
