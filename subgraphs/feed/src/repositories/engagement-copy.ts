import type { CassandraClient } from '../../../../platform/cassandra/client.js';
import { countsByKind } from '../../../../platform/cassandra/grouped-counts.js';
import { RecentCounts } from '../../../../platform/limits/recent-counts.js';

export type EngagementKind = 'like' | 'repost';
export type EngagementCounts = Readonly<Record<EngagementKind, number>>;
/** Whether a user likes a tweet, and whether they reposted it. */
export type ViewerEngagement = Readonly<Record<EngagementKind, boolean>>;
export const NO_COUNTS: EngagementCounts = Object.freeze({ like: 0, repost: 0 });

/**
 * The feed's copy of likes and reposts, from the engagement events: by user (viewer_engagements, for a page's
 * viewerHasLiked) and by tweet (engagements_by_tweet, for its counts). Each row is written or deleted at its event's
 * version: a retried event, or an undo that arrives before what it undoes, leaves the latest change. Counts read are
 * remembered for a second by this process (a tweet on many timelines is counted once, not once per page), forgotten as
 * soon as this process copies a change of the tweet's.
 */
export class EngagementCopyRepository {
  private readonly recentCounts = new RecentCounts<EngagementCounts>({ none: NO_COUNTS });

  constructor(private readonly cassandra: CassandraClient) {}

  async record(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    await this.atVersion(version, tweetId, [
      ['INSERT INTO viewer_engagements (user_id, tweet_id, kind) VALUES (?, ?, ?)', [userId, tweetId, kind]],
      ['INSERT INTO engagements_by_tweet (tweet_id, kind, user_id) VALUES (?, ?, ?)', [tweetId, kind, userId]],
    ]);
  }

  async forget(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    await this.atVersion(version, tweetId, [
      ['DELETE FROM viewer_engagements WHERE user_id = ? AND tweet_id = ? AND kind = ?', [userId, tweetId, kind]],
      ['DELETE FROM engagements_by_tweet WHERE tweet_id = ? AND kind = ? AND user_id = ?', [tweetId, kind, userId]],
    ]);
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

  /** Likes and reposts of each of the tweets: those not counted in the last second in one query. */
  counts(tweetIds: readonly string[]): Promise<Map<string, EngagementCounts>> {
    return this.recentCounts.read([...new Set(tweetIds)], (missing) => this.countRows(missing));
  }

  /** Both rows of a change, written at its version; the tweet's count is forgotten once they have settled. */
  private async atVersion(version: number, tweetId: string, statements: [string, unknown[]][]): Promise<void> {
    const writes = statements.map(([query, params]) => this.cassandra.execute(query, params, { timestamp: version }));
    // Forgotten also when a write failed: it may have landed all the same.
    const settled = await Promise.allSettled(writes);
    this.recentCounts.changed(tweetId);
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  }

  private async countRows(tweetIds: readonly string[]): Promise<Map<string, EngagementCounts>> {
    const result = await this.cassandra.execute(
      'SELECT tweet_id, kind, COUNT(*) AS n FROM engagements_by_tweet WHERE tweet_id IN ? GROUP BY tweet_id, kind',
      [tweetIds],
    );
    return countsByKind(result.rows, 'tweet_id', NO_COUNTS);
  }
}
