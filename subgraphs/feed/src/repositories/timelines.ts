import { type CassandraClient, executeConcurrent } from '../../../../platform/cassandra/client.js';
import { forEachConcurrently } from '../../../../platform/concurrently.js';
import type { Page, PageRequest } from '../../../../platform/graphql/paging.js';
import { fanoutRowsWritten } from '../../../../platform/observability/metrics.js';
import { inSpan } from '../../../../platform/observability/tracing.js';
import type { TimelineItem } from '../model.js';
import { shouldTrim, trimToNewest } from './trim.js';

export interface TimelineRepositoryOptions {
  /** Timeline inserts in flight at once during fan-out. Defaults to 128. */
  fanoutConcurrency?: number;
  /** Trim a timeline after about one in this many inserts. Defaults to 16. */
  trimEvery?: number;
}

/** Each trim reads up to a timeline's length of keys: a few at a time leave the node room for everything else. */
const TRIMS_AT_ONCE = 8;

/** One home timeline per user (home_timeline), newest first, capped at TIMELINE_LENGTH items. */
export class TimelineRepository {
  private readonly fanoutConcurrency: number;
  private readonly trimEvery: number;

  constructor(
    private readonly cassandra: CassandraClient,
    options: TimelineRepositoryOptions = {},
  ) {
    this.fanoutConcurrency = options.fanoutConcurrency ?? 128;
    this.trimEvery = options.trimEvery ?? 16;
  }

  /** One item into many timelines (fan-out). Idempotent. Call `trimAfterAdding` with the same arguments after it. */
  async addToTimelines(userIds: readonly string[], item: TimelineItem): Promise<void> {
    await this.insertEntries(userIds.map((userId) => [userId, item]));
  }

  /**
   * Trims the timelines an `addToTimelines` of this item is due to trim (about one in `trimEvery`, the same ones on
   * every retry). Separate so the item can be announced first: trims are upkeep, not part of delivering it.
   */
  async trimAfterAdding(userIds: readonly string[], item: TimelineItem): Promise<void> {
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

  private async insertEntries(entries: [userId: string, item: TimelineItem][]): Promise<void> {
    if (entries.length === 0) return;
    await inSpan('timeline writes', { attributes: { 'twtr.timeline.rows': entries.length } }, () =>
      executeConcurrent(
        this.cassandra,
        'INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (?, ?, ?)',
        entries.map(([userId, item]) => [userId, item.tweetId, item.authorId]),
        this.fanoutConcurrency,
      ),
    );
    fanoutRowsWritten.inc(entries.length);
  }

  private deleteEntries(entries: [userId: string, tweetId: string][]): Promise<void> {
    return executeConcurrent(
      this.cassandra,
      'DELETE FROM home_timeline WHERE user_id = ? AND tweet_id = ?',
      entries,
      this.fanoutConcurrency,
    );
  }

  /** A fan-out to 1,000 followers trims about 60 timelines: side by side, not one after another. */
  private trimSome(userIds: readonly string[]): Promise<void> {
    return forEachConcurrently(userIds, TRIMS_AT_ONCE, (userId) =>
      trimToNewest(this.cassandra, { table: 'home_timeline', partitionKey: 'user_id', clusteringKey: 'tweet_id', key: userId }),
    );
  }
}
