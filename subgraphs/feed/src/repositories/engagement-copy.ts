import { batchesByReplica, type CassandraClient, cql } from '../../../../platform/cassandra/client.js';
import { countsByKind } from '../../../../platform/cassandra/grouped-counts.js';
import { Rounds } from '../../../../platform/concurrently.js';
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
  private readonly rounds = new Rounds<CopiedChange>((changes) => this.write(changes), ROUND_CHANGES);

  constructor(private readonly cassandra: CassandraClient) {}

  /**
   * Copies the changes, written with whatever others are being copied at the moment (rounds, platform/concurrently.ts):
   * a storm of 1,000 likes a second is some unlogged batches a second, not 2,000 writes.
   */
  async apply(changes: readonly EngagementChange[]): Promise<void> {
    // Built here, so a change that cannot be written (an id that is not one) fails its own caller, not a round.
    await this.rounds.add(changes.map((change) => ({ tweetId: change.tweetId, rows: rowsOf(change) })));
  }

  record(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    return this.apply([{ kind, userId, tweetId, version, engaged: true }]);
  }

  forget(kind: EngagementKind, userId: string, tweetId: string, version: number): Promise<void> {
    return this.apply([{ kind, userId, tweetId, version, engaged: false }]);
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

  /**
   * A round's two rows a change, each at its change's version, in unlogged batches of rows with the same replica; the
   * changed tweets' counts are forgotten once they have settled.
   */
  private async write(changes: readonly CopiedChange[]): Promise<void> {
    const rows = changes.flatMap((change) => change.rows);
    const batches = batchesByReplica(this.cassandra, rows, ([, , key]) => key as Buffer, BATCH_ROWS);
    const writes = batches.map((batch) =>
      this.cassandra.batch(
        batch.map(([query, params]) => ({ query: query as string, params: params as unknown[] })),
        { prepare: true, logged: false },
      ),
    );
    // Forgotten also when a write failed: it may have landed all the same.
    const settled = await Promise.allSettled(writes);
    for (const tweetId of new Set(changes.map((change) => change.tweetId))) this.recentCounts.changed(tweetId);
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

/** A like or repost made (engaged) or undone, at its event's version. */
export interface EngagementChange {
  kind: EngagementKind;
  userId: string;
  tweetId: string;
  version: number;
  engaged: boolean;
}

/** Changes copied in one round: two rows each, a round's batches under Cassandra's 5 kB batch-size warning. */
const ROUND_CHANGES = 32;
const BATCH_ROWS = 64;
const INSERT_BY_USER = 'INSERT INTO viewer_engagements (user_id, tweet_id, kind) VALUES (?, ?, ?) USING TIMESTAMP ?';
const DELETE_BY_USER = 'DELETE FROM viewer_engagements USING TIMESTAMP ? WHERE user_id = ? AND tweet_id = ? AND kind = ?';
const INSERT_BY_TWEET = 'INSERT INTO engagements_by_tweet (tweet_id, kind, user_id) VALUES (?, ?, ?) USING TIMESTAMP ?';
const DELETE_BY_TWEET = 'DELETE FROM engagements_by_tweet USING TIMESTAMP ? WHERE tweet_id = ? AND kind = ? AND user_id = ?';

/** A change's two rows, each as [query, params, partition key]. */
function rowsOf({ kind, userId, tweetId, version, engaged }: EngagementChange): unknown[][] {
  const [byUser, byTweet] = [userKey(userId), tweetKey(tweetId)];
  return engaged
    ? [
        [INSERT_BY_USER, [userId, tweetId, kind, version], byUser],
        [INSERT_BY_TWEET, [tweetId, kind, userId, version], byTweet],
      ]
    : [
        [DELETE_BY_USER, [version, userId, tweetId, kind], byUser],
        [DELETE_BY_TWEET, [version, tweetId, kind, userId], byTweet],
      ];
}

interface CopiedChange {
  tweetId: string;
  rows: unknown[][];
}

const userKey = (userId: string) => cql.Uuid.fromString(userId).getBuffer();
const tweetKey = (tweetId: string) => cql.TimeUuid.fromString(tweetId).getBuffer();
