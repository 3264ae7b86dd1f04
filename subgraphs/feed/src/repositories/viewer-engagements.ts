import type { CassandraClient } from '../../../../platform/cassandra/client.js';

export type EngagementKind = 'like' | 'repost';

/**
 * Users' likes and reposts (viewer_engagements), copied from the engagement events. Each row is written or deleted at
 * its event's version: a retried event, or an undo that arrives before what it undoes, leaves the latest change.
 */
export class ViewerEngagementsRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  async record(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    await this.cassandra.execute(
      'INSERT INTO viewer_engagements (user_id, tweet_id, kind) VALUES (?, ?, ?)',
      [userId, tweetId, kind],
      { timestamp: version },
    );
  }

  async forget(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    await this.cassandra.execute(
      'DELETE FROM viewer_engagements WHERE user_id = ? AND tweet_id = ? AND kind = ?',
      [userId, tweetId, kind],
      { timestamp: version },
    );
  }

  /** Which of the tweets the user likes or reposted, as `${kind}:${tweetId}`, in one query. */
  async among(userId: string, tweetIds: readonly string[]): Promise<Set<string>> {
    if (tweetIds.length === 0) return new Set();
    const result = await this.cassandra.execute(
      'SELECT tweet_id, kind FROM viewer_engagements WHERE user_id = ? AND tweet_id IN ?',
      [userId, [...new Set(tweetIds)]],
    );
    return new Set(result.rows.map((row) => `${row.get('kind')}:${row.get('tweet_id')}`));
  }
}
