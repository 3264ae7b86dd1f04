import type { CassandraClient } from '../../../../platform/cassandra/client.js';

/** A timeline keeps this many newest items (as Twitter and Mastodon do); so does each author's list of tweets. */
export const TIMELINE_LENGTH = 800;

/** About one in `every` (key, id) pairs, spread evenly and the same on every replica and every redelivery. */
export function shouldTrim(key: string, id: string, every: number): boolean {
  if (every <= 1) return true;
  let hash = 0;
  for (const char of key + id) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return Math.abs(hash) % every === 0;
}

/**
 * Keeps a partition's newest TIMELINE_LENGTH rows with one range tombstone for everything older, never a tombstone
 * per row. Reads go newest first, so they stop before reaching it.
 */
export async function trimToNewest(
  cassandra: CassandraClient,
  partition: { table: string; partitionKey: string; clusteringKey: string; key: string },
): Promise<void> {
  const { table, partitionKey, clusteringKey, key } = partition;
  const rows = (
    await cassandra.execute(`SELECT ${clusteringKey} FROM ${table} WHERE ${partitionKey} = ? LIMIT ?`, [key, TIMELINE_LENGTH + 1])
  ).rows;
  if (rows.length <= TIMELINE_LENGTH) return;
  const oldestKept = rows[TIMELINE_LENGTH - 1].get(clusteringKey);
  await cassandra.execute(`DELETE FROM ${table} WHERE ${partitionKey} = ? AND ${clusteringKey} < ?`, [key, oldestKept]);
}
