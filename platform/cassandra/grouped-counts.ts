import type { types } from 'cassandra-driver';

/**
 * The rows of a `SELECT <key>, kind, COUNT(*) AS n … GROUP BY <key>, kind` as each key's count of every kind, kinds it
 * has no rows of counted as in `none`; keys with no rows at all are left out (the caller says what they count).
 */
export function countsByKind<K extends string>(
  rows: readonly types.Row[],
  key: string,
  none: Readonly<Record<K, number>>,
): Map<string, Record<K, number>> {
  const counts = new Map<string, Record<K, number>>();
  for (const row of rows) {
    const id = row.get(key).toString() as string;
    const forKey = counts.get(id) ?? { ...none };
    forKey[row.get('kind') as K] = Number(row.get('n'));
    counts.set(id, forKey);
  }
  return counts;
}
