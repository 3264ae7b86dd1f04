import { executeConcurrent, type CassandraClient } from '../../shared/cassandra.js';
import type { Page, PageRequest } from '../../shared/paging.js';
import type { TimelineItem } from './model.js';

export interface TimelineRepositoryOptions {
  /** Timeline inserts in flight at once during fan-out. Defaults to 128. */
  fanoutConcurrency?: number;
  /** Follower ids read per page while fanning out. Defaults to 1,000. */
  followerPageSize?: number;
}

/** The feed keyspace: followers_by_user, tweets_by_author and home_timeline (see migrations/feed). */
export class TimelineRepository {
  private readonly fanoutConcurrency: number;
  private readonly followerPageSize: number;

  constructor(
    private readonly cassandra: CassandraClient,
    options: TimelineRepositoryOptions = {},
  ) {
    this.fanoutConcurrency = options.fanoutConcurrency ?? 128;
    this.followerPageSize = options.followerPageSize ?? 1000;
  }

  /** Written at the follow's version, so a stale follow.created never undoes a newer follow.deleted. */
  async addFollower(userId: string, followerId: string, version: number): Promise<void> {
    await this.cassandra.execute('INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?) USING TIMESTAMP ?', [
      userId,
      followerId,
      version,
    ]);
  }

  async removeFollower(userId: string, followerId: string, version: number): Promise<void> {
    await this.cassandra.execute('DELETE FROM followers_by_user USING TIMESTAMP ? WHERE user_id = ? AND follower_id = ?', [
      version,
      userId,
      followerId,
    ]);
  }

  async isFollower(userId: string, followerId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT follower_id FROM followers_by_user WHERE user_id = ? AND follower_id = ?', [
      userId,
      followerId,
    ]);
    return result.rowLength > 0;
  }

  /** An author's newest tweet ids, newest first. */
  async recentTweetIds(authorId: string, limit: number): Promise<string[]> {
    const result = await this.cassandra.execute('SELECT tweet_id FROM tweets_by_author WHERE author_id = ? LIMIT ?', [authorId, limit]);
    return result.rows.map((row) => row.get('tweet_id').toString());
  }

  async recordTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO tweets_by_author (author_id, tweet_id) VALUES (?, ?)', [authorId, tweetId]);
  }

  async forgetTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('DELETE FROM tweets_by_author WHERE author_id = ? AND tweet_id = ?', [authorId, tweetId]);
  }

  /** Follower ids of a user, a page at a time, so a large audience never sits in memory at once. */
  async *followerIdPages(userId: string): AsyncGenerator<string[]> {
    let pageState: string | undefined;
    do {
      const result = await this.cassandra.execute('SELECT follower_id FROM followers_by_user WHERE user_id = ?', [userId], {
        fetchSize: this.followerPageSize,
        pageState,
      });
      yield result.rows.map((row) => row.get('follower_id').toString());
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }

  /** Idempotent: writing an item twice leaves one entry. */
  async addToTimelines(userIds: readonly string[], item: TimelineItem): Promise<void> {
    await executeConcurrent(
      this.cassandra,
      'INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (?, ?, ?)',
      userIds.map((userId) => [userId, item.tweetId, item.authorId]),
      this.fanoutConcurrency,
    );
  }

  /** Several items into one user's timeline (a follow's backfill). Idempotent. */
  async addItemsToTimeline(userId: string, items: readonly TimelineItem[]): Promise<void> {
    await executeConcurrent(
      this.cassandra,
      'INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (?, ?, ?)',
      items.map((item) => [userId, item.tweetId, item.authorId]),
      this.fanoutConcurrency,
    );
  }

  async removeItemsFromTimeline(userId: string, tweetIds: readonly string[]): Promise<void> {
    await executeConcurrent(
      this.cassandra,
      'DELETE FROM home_timeline WHERE user_id = ? AND tweet_id = ?',
      tweetIds.map((tweetId) => [userId, tweetId]),
      this.fanoutConcurrency,
    );
  }

  async removeFromTimelines(userIds: readonly string[], tweetId: string): Promise<void> {
    await executeConcurrent(
      this.cassandra,
      'DELETE FROM home_timeline WHERE user_id = ? AND tweet_id = ?',
      userIds.map((userId) => [userId, tweetId]),
      this.fanoutConcurrency,
    );
  }

  async timeline(userId: string, page: PageRequest): Promise<Page<TimelineItem>> {
    const query = page.afterId
      ? 'SELECT tweet_id, author_id FROM home_timeline WHERE user_id = ? AND tweet_id < ? LIMIT ?'
      : 'SELECT tweet_id, author_id FROM home_timeline WHERE user_id = ? LIMIT ?';
    const params = page.afterId ? [userId, page.afterId, page.limit + 1] : [userId, page.limit + 1];
    const rows = (await this.cassandra.execute(query, params)).rows.map((row) => ({
      tweetId: row.get('tweet_id').toString() as string,
      authorId: row.get('author_id').toString() as string,
    }));
    return { items: rows.slice(0, page.limit), hasNextPage: rows.length > page.limit };
  }
}
