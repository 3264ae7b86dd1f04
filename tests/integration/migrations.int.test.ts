import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrateKeyspace, pendingMigrations } from '../../migrations/runner.js';
import type { CassandraClient } from '../../platform/cassandra/client.js';
import { keyspaceOf, SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { migrateAll, waitForMigrations } from '../../tools/migrate.js';
import { cassandraFor, testConfig, testLogger } from '../support/infra.js';

describe('the migration runner', () => {
  const keyspace = `migrations_test_${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'twtr-migrations-'));
  let cassandra: CassandraClient;

  beforeAll(async () => {
    cassandra = await cassandraFor('system');
    mkdirSync(join(dir, keyspace));
    writeFileSync(join(dir, keyspace, '001_notes.cql'), 'CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text);');
  });

  afterAll(async () => {
    await cassandra.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await cassandra.shutdown();
  });

  it('applies each migration once, keeps data, and refuses an edited migration', async () => {
    const run = () => migrateKeyspace(cassandra, keyspace, testConfig().CASSANDRA_REPLICATION, testLogger(), dir);
    // What a new version's pods wait for (migrate --wait): nothing is applied yet, the keyspace does not exist.
    expect(await pendingMigrations(cassandra, keyspace, dir)).toEqual(['001_notes.cql']);
    expect(await run()).toEqual(['001_notes.cql']);
    expect(await pendingMigrations(cassandra, keyspace, dir)).toEqual([]);
    await cassandra.execute(`INSERT INTO ${keyspace}.notes (id, body) VALUES (1, 'kept')`);

    writeFileSync(join(dir, keyspace, '002_tags.cql'), '-- a second step\nALTER TABLE notes ADD tags set<text>;');
    expect(await pendingMigrations(cassandra, keyspace, dir)).toEqual(['002_tags.cql']);
    expect(await run()).toEqual(['002_tags.cql']);
    expect(await run()).toEqual([]);
    const row = (await cassandra.execute(`SELECT body, tags FROM ${keyspace}.notes WHERE id = 1`)).first();
    expect(row.get('body')).toBe('kept');

    writeFileSync(join(dir, keyspace, '001_notes.cql'), 'CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY);');
    await expect(run()).rejects.toThrow(/001_notes.cql was changed after it was applied/);
  });
});

describe('migrate --wait (the init container of every Deployment)', () => {
  const namespace = `wait${Date.now().toString(36)}_`;
  const config = { ...testConfig(), TWTR_NAMESPACE: namespace };

  afterAll(async () => {
    const admin = await cassandraFor('system');
    for (const name of SUBGRAPH_NAMES) await admin.execute(`DROP KEYSPACE IF EXISTS ${keyspaceOf(name, namespace)}`);
    await admin.shutdown();
  });

  it('holds a new version back until the migration job has applied every migration it ships, then lets it start', async () => {
    expect(await waitForMigrations(config, { timeoutMs: 300, intervalMs: 100 })).toBe(false);
    let released = false;
    const waiting = waitForMigrations(config, { timeoutMs: 60_000, intervalMs: 100 }).then((done) => (released = done));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(released).toBe(false);
    await migrateAll(config);
    expect(await waiting).toBe(true);
  }, 90_000);
});

describe('the feed keyspace', () => {
  it('keeps home timeline tombstones for a day, not the default ten (see migrations/feed/004)', async () => {
    const config = testConfig();
    const admin = await cassandraFor('system');
    try {
      const table = await admin.execute(
        'SELECT gc_grace_seconds FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?',
        [keyspaceOf('feed', config.TWTR_NAMESPACE), 'home_timeline'],
      );
      expect(table.first().get('gc_grace_seconds')).toBe(86_400);
    } finally {
      await admin.shutdown();
    }
  });
});

describe('every keyspace', () => {
  it('has every table ask a third replica after 100 ms, not 99p (see migrations/*/..._speculative_retry.cql)', async () => {
    const config = testConfig();
    const admin = await cassandraFor('system');
    try {
      const tables = (
        await admin.execute(
          'SELECT keyspace_name, table_name, speculative_retry FROM system_schema.tables WHERE keyspace_name IN ?',
          [SUBGRAPH_NAMES.map((name) => keyspaceOf(name, config.TWTR_NAMESPACE))],
        )
      ).rows.filter((row) => row.get('table_name') !== 'schema_migrations');
      expect(tables.length).toBeGreaterThan(40);
      const others = tables
        .filter((row) => row.get('speculative_retry') !== '100ms')
        .map((row) => `${row.get('keyspace_name')}.${row.get('table_name')}`);
      expect(others).toEqual([]);
    } finally {
      await admin.shutdown();
    }
  });
});
