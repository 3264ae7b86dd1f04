import { executeConcurrent, type CassandraClient } from '../../../platform/cassandra/client.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';
import type { TimelineItem } from './model.js';

/** A timeline keeps this many newest items (as Twitter and Mastodon do). */
export const TIMELINE_LENGTH = 800;

export interface TimelineRepositoryOptions {
  /** Timeline inserts in flight at once during fan-out. Defaults to 128. */
  fanoutConcurrency?: number;
  /** Follower ids read per page while fanning out. Defaults to 1,000. */
  followerPageSize?: number;
  /** Trim a timeline after about one in this many inserts. Defaults to 16. */
  trimEvery?: number;
}

/**
 * The feed keyspace (see migrations/feed): its copy of the social graph (followers_by_user, following_by_user), each
 * author's recent tweets (tweets_by_author), authors merged at read time (read_time_authors) and one home_timeline
 * per user. Follow rows are written at the follow's version, so stale events never undo newer ones.
 */
export class TimelineRepository {
  private readonly fanoutConcurrency: number;
  private readonly followerPageSize: number;
  private readonly trimEvery: number;

  constructor(
    private readonly cassandra: CassandraClient,
    options: TimelineRepositoryOptions = {},
  ) {
    this.fanoutConcurrency = options.fanoutConcurrency ?? 128;
    this.followerPageSize = options.followerPageSize ?? 1000;
    this.trimEvery = options.trimEvery ?? 16;
  }

  /** Both directions of the relationship, at the follow's version. */
  async addFollower(userId: string, followerId: string, version: number): Promise<void> {
    await this.cassandra.batch(
      [
        { query: 'INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)', params: [userId, followerId] },
        { query: 'INSERT INTO following_by_user (follower_id, followee_id) VALUES (?, ?)', params: [followerId, userId] },
      ],
      { prepare: true, logged: false, timestamp: version },
    );
  }

  async removeFollower(userId: string, followerId: string, version: number): Promise<void> {
    await this.cassandra.batch(
      [
        { query: 'DELETE FROM followers_by_user WHERE user_id = ? AND follower_id = ?', params: [userId, followerId] },
        { query: 'DELETE FROM following_by_user WHERE follower_id = ? AND followee_id = ?', params: [followerId, userId] },
      ],
      { prepare: true, logged: false, timestamp: version },
    );
  }

  async isFollower(userId: string, followerId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT follower_id FROM followers_by_user WHERE user_id = ? AND follower_id = ?', [
      userId,
      followerId,
    ]);
    return result.rowLength > 0;
  }

  /** Which of the given ids still follow the user (one query). */
  async followersAmong(userId: string, followerIds: readonly string[]): Promise<string[]> {
    if (followerIds.length === 0) return [];
    const result = await this.cassandra.execute('SELECT follower_id FROM followers_by_user WHERE user_id = ? AND follower_id IN ?', [
      userId,
      followerIds,
    ]);
    return result.rows.map((row) => row.get('follower_id').toString());
  }

  async followeeIds(followerId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const row of await this.cassandra.execute('SELECT followee_id FROM following_by_user WHERE follower_id = ?', [followerId], {
      fetchSize: 5000,
    })) {
      ids.push(row.get('followee_id').toString());
    }
    return ids;
  }

  /** Follower ids of a user, a page at a time, so a large audience never sits in memory at once. */
  async *followerIdPages(userId: string, pageSize = this.followerPageSize): AsyncGenerator<string[]> {
    let pageState: string | undefined;
    do {
      const result = await this.cassandra.execute('SELECT follower_id FROM followers_by_user WHERE user_id = ?', [userId], {
        fetchSize: pageSize,
        pageState,
      });
      yield result.rows.map((row) => row.get('follower_id').toString());
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }

  async isReadTimeAuthor(authorId: string): Promise<boolean> {
    return (await this.cassandra.execute('SELECT author_id FROM read_time_authors WHERE author_id = ?', [authorId])).rowLength > 0;
  }

  async readTimeAuthorsAmong(authorIds: readonly string[]): Promise<string[]> {
    if (authorIds.length === 0) return [];
    const result = await this.cassandra.execute('SELECT author_id FROM read_time_authors WHERE author_id IN ?', [authorIds]);
    return result.rows.map((row) => row.get('author_id').toString());
  }

  async markReadTimeAuthor(authorId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO read_time_authors (author_id, since) VALUES (?, ?)', [authorId, new Date()]);
  }

  async unmarkReadTimeAuthor(authorId: string): Promise<void> {
    await this.cassandra.execute('DELETE FROM read_time_authors WHERE author_id = ?', [authorId]);
  }

  async recordTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO tweets_by_author (author_id, tweet_id) VALUES (?, ?)', [authorId, tweetId]);
    if (shouldTrim(authorId, tweetId, this.trimEvery)) await this.trim('tweets_by_author', 'author_id', 'tweet_id', authorId);
  }

  async hasTweet(authorId: string, tweetId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT tweet_id FROM tweets_by_author WHERE author_id = ? AND tweet_id = ?', [
      authorId,
      tweetId,
    ]);
    return result.rowLength > 0;
  }

  async forgetTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('DELETE FROM tweets_by_author WHERE author_id = ? AND tweet_id = ?', [authorId, tweetId]);
  }

  /** An author's newest tweet ids, newest first, after the given id. */
  async authorTweetIds(authorId: string, page: PageRequest): Promise<string[]> {
    const query = page.afterId
      ? 'SELECT tweet_id FROM tweets_by_author WHERE author_id = ? AND tweet_id < ? LIMIT ?'
      : 'SELECT tweet_id FROM tweets_by_author WHERE author_id = ? LIMIT ?';
    const params = page.afterId ? [authorId, page.afterId, page.limit] : [authorId, page.limit];
    return (await this.cassandra.execute(query, params)).rows.map((row) => row.get('tweet_id').toString());
  }

  recentTweetIds(authorId: string, limit: number): Promise<string[]> {
    return this.authorTweetIds(authorId, { limit });
  }

  /** One item into many timelines (fan-out). Idempotent. */
  async addToTimelines(userIds: readonly string[], item: TimelineItem): Promise<void> {
    await this.insertEntries(userIds.map((userId) => [userId, item]));
    await this.trimSome(userIds.filter((userId) => shouldTrim(userId, item.tweetId, this.trimEvery)));
  }

  /** Several items into one user's timeline (a follow's backfill). Idempotent. */
  async addItemsToTimeline(userId: string, items: readonly TimelineItem[]): Promise<void> {
    await this.insertEntries(items.map((item) => [userId, item]));
    if (items.length > 0) await this.trimSome([userId]);
  }

  removeItemsFromTimeline(userId: string, tweetIds: readonly string[]): Promise<void> {
    return this.deleteEntries(tweetIds.map((tweetId) => [userId, tweetId]));
  }

  removeFromTimelines(userIds: readonly string[], tweetId: string): Promise<void> {
    return this.deleteEntries(userIds.map((userId) => [userId, tweetId]));
  }

  /** Replaces a timeline wholesale (rebuild): one partition tombstone, then the items. */
  async replaceTimeline(userId: string, items: readonly TimelineItem[]): Promise<void> {
    await this.cassandra.execute('DELETE FROM home_timeline WHERE user_id = ?', [userId]);
    await this.addItemsToTimeline(userId, items);
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

  /** Every user with a timeline (for a full rebuild). */
  async *allTimelineOwners(): AsyncGenerator<string> {
    for await (const row of await this.cassandra.execute('SELECT DISTINCT user_id FROM home_timeline', [], { fetchSize: 1000 })) {
      yield row.get('user_id').toString();
    }
  }

  private insertEntries(entries: [userId: string, item: TimelineItem][]): Promise<void> {
    return executeConcurrent(
      this.cassandra,
      'INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (?, ?, ?)',
      entries.map(([userId, item]) => [userId, item.tweetId, item.authorId]),
      this.fanoutConcurrency,
    );
  }

  private deleteEntries(entries: [userId: string, tweetId: string][]): Promise<void> {
    return executeConcurrent(this.cassandra, 'DELETE FROM home_timeline WHERE user_id = ? AND tweet_id = ?', entries, this.fanoutConcurrency);
  }

  private async trimSome(userIds: readonly string[]): Promise<void> {
    for (const userId of userIds) await this.trim('home_timeline', 'user_id', 'tweet_id', userId);
  }

  /**
   * Keeps a partition's newest TIMELINE_LENGTH rows with one range tombstone for everything older, never a
   * tombstone per row. Reads go newest first, so they stop before reaching it.
   */
  private async trim(table: string, partitionKey: string, clusteringKey: string, key: string): Promise<void> {
    const rows = (
      await this.cassandra.execute(`SELECT ${clusteringKey} FROM ${table} WHERE ${partitionKey} = ? LIMIT ?`, [key, TIMELINE_LENGTH + 1])
    ).rows;
    if (rows.length <= TIMELINE_LENGTH) return;
    const oldestKept = rows[TIMELINE_LENGTH - 1].get(clusteringKey);
    await this.cassandra.execute(`DELETE FROM ${table} WHERE ${partitionKey} = ? AND ${clusteringKey} < ?`, [key, oldestKept]);
  }
}

/** About one in `every` (user, tweet) pairs, spread evenly and the same on every replica and every redelivery. */
export function shouldTrim(userId: string, tweetId: string, every: number): boolean {
  if (every <= 1) return true;
  let hash = 0;
  for (const char of userId + tweetId) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return Math.abs(hash) % every === 0;
}
