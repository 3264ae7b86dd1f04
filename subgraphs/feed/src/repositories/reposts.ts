import type { CassandraClient } from '../../../../platform/cassandra/client.js';

/** One user's copy of a repost: which repost (its timeuuid, the timeline row's key) put the tweet in their timeline. */
export interface Delivery {
  userId: string;
  engagedAt: string;
}

/** Reposts in timelines: who got which repost of a tweet (repost_deliveries), and reposts undone (undone_reposts). */
export class RepostsRepository {
  constructor(
    private readonly cassandra: CassandraClient,
    private readonly pageSize = 1_000,
  ) {}

  async markUndone(reposterId: string, engagedAt: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO undone_reposts (reposter_id, engaged_at) VALUES (?, ?)', [reposterId, engagedAt]);
  }

  async wasUndone(reposterId: string, engagedAt: string): Promise<boolean> {
    const result = await this.cassandra.execute(
      'SELECT engaged_at FROM undone_reposts WHERE reposter_id = ? AND engaged_at = ?',
      [reposterId, engagedAt],
    );
    return result.rowLength > 0;
  }

  /** Which of the users got a repost of the tweet, and which one, in one query. */
  async deliveredAmong(tweetId: string, userIds: readonly string[]): Promise<Map<string, string>> {
    if (userIds.length === 0) return new Map();
    const result = await this.cassandra.execute(
      'SELECT user_id, engaged_at FROM repost_deliveries WHERE tweet_id = ? AND user_id IN ?',
      [tweetId, userIds],
    );
    return new Map(result.rows.map((row) => [row.get('user_id').toString(), row.get('engaged_at').toString()]));
  }

  async recordDeliveries(tweetId: string, userIds: readonly string[], engagedAt: string): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.cassandra.execute('INSERT INTO repost_deliveries (tweet_id, user_id, engaged_at) VALUES (?, ?, ?)', [
          tweetId,
          userId,
          engagedAt,
        ]),
      ),
    );
  }

  async forgetDeliveries(tweetId: string, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.cassandra.execute('DELETE FROM repost_deliveries WHERE tweet_id = ? AND user_id IN ?', [tweetId, userIds]);
  }

  /** Every copy of a repost of the tweet, a page at a time. */
  async *deliveryPages(tweetId: string): AsyncGenerator<Delivery[]> {
    let pageState: string | undefined;
    do {
      const result = await this.cassandra.execute(
        'SELECT user_id, engaged_at FROM repost_deliveries WHERE tweet_id = ?',
        [tweetId],
        {
          fetchSize: this.pageSize,
          pageState,
        },
      );
      yield result.rows.map((row) => ({ userId: row.get('user_id').toString(), engagedAt: row.get('engaged_at').toString() }));
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }
}
