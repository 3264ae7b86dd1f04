import { batchesByReplica, type CassandraClient, cql } from '../../../../platform/cassandra/client.js';
import { type Urgency, WorkBudget } from '../../../../platform/concurrently.js';
import type { Page, PageRequest } from '../../../../platform/graphql/paging.js';
import { fanoutRowsWritten } from '../../../../platform/observability/metrics.js';
import { inSpan } from '../../../../platform/observability/tracing.js';
import type { TimelineItem } from '../model.js';
import { shouldTrim, trimToNewest } from './trim.js';

export interface TimelineRepositoryOptions {
  /** Timeline statements in flight at once, all fan-outs of the process together. Defaults to 128. */
  fanoutConcurrency?: number;
  /** Trim a timeline after about one in this many inserts. Defaults to 16. */
  trimEvery?: number;
}

/** Rows per batch: a fan-out to 1,000 followers is 50 round trips, and a batch stays far below the size warnings. */
const BATCH_ROWS = 20;

/**
 * One home timeline per user (home_timeline), newest first, capped at TIMELINE_LENGTH items.
 *
 * Every write and trim of many timelines goes through one budget per process, so however many fan-outs run at once
 * the node sees a bounded number of them; `urgent` work (an event off the main queue: an ordinary author's tweet, a
 * follow) goes ahead of `background` work (a big audience's queued work items, trims) waiting for a place.
 */
export class TimelineRepository {
  private readonly budget: WorkBudget;
  private readonly trimEvery: number;

  constructor(
    private readonly cassandra: CassandraClient,
    options: TimelineRepositoryOptions = {},
  ) {
    this.budget = new WorkBudget(options.fanoutConcurrency ?? 128);
    this.trimEvery = options.trimEvery ?? 16;
  }

  /** One item into many timelines (fan-out). Idempotent. Call `trimAfterAdding` with the same arguments after it. */
  async addToTimelines(userIds: readonly string[], item: TimelineItem, urgency: Urgency = 'urgent'): Promise<void> {
    await this.insertEntries(
      userIds.map((userId) => [userId, item]),
      urgency,
    );
  }

  /**
   * Trims the timelines an `addToTimelines` of this item is due to trim (about one in `trimEvery`, the same ones on
   * every retry). Separate so the item can be announced first: trims are upkeep, not part of delivering it.
   */
  async trimAfterAdding(userIds: readonly string[], item: TimelineItem): Promise<void> {
    await this.trimSome(userIds.filter((userId) => shouldTrim(userId, item.tweetId, this.trimEvery)));
  }

  /** Several items into one user's timeline (a follow's backfill). Idempotent. */
  async addItemsToTimeline(userId: string, items: readonly TimelineItem[], urgency: Urgency = 'urgent'): Promise<void> {
    await this.insertEntries(
      items.map((item) => [userId, item]),
      urgency,
    );
    if (items.length > 0) await this.trimSome([userId]);
  }

  removeItemsFromTimeline(userId: string, tweetIds: readonly string[]): Promise<void> {
    return this.deleteEntries(
      tweetIds.map((tweetId) => [userId, tweetId]),
      'urgent',
    );
  }

  removeFromTimelines(userIds: readonly string[], tweetId: string, urgency: Urgency = 'urgent'): Promise<void> {
    return this.deleteEntries(
      userIds.map((userId) => [userId, tweetId]),
      urgency,
    );
  }

  /** Replaces a timeline wholesale (rebuild): one partition tombstone, then the items. */
  async replaceTimeline(userId: string, items: readonly TimelineItem[]): Promise<void> {
    await this.cassandra.execute('DELETE FROM home_timeline WHERE user_id = ?', [userId]);
    await this.addItemsToTimeline(userId, items);
  }

  async timeline(userId: string, page: PageRequest): Promise<Page<TimelineItem>> {
    const select = 'SELECT tweet_id, author_id, original_id, reposted_by FROM home_timeline WHERE user_id = ?';
    const query = page.afterId ? `${select} AND tweet_id < ? LIMIT ?` : `${select} LIMIT ?`;
    const params = page.afterId ? [userId, page.afterId, page.limit + 1] : [userId, page.limit + 1];
    const rows = (await this.cassandra.execute(query, params)).rows.map((row): TimelineItem => ({
      tweetId: row.get('tweet_id').toString() as string,
      authorId: row.get('author_id').toString() as string,
      ...(row.get('original_id') && { originalId: row.get('original_id').toString() as string }),
      ...(row.get('reposted_by') && { repostedBy: row.get('reposted_by').toString() as string }),
    }));
    return { items: rows.slice(0, page.limit), hasNextPage: rows.length > page.limit };
  }

  /** Every user with a timeline (for a full rebuild). */
  async *allTimelineOwners(): AsyncGenerator<string> {
    for await (const row of await this.cassandra.execute('SELECT DISTINCT user_id FROM home_timeline', [], { fetchSize: 1000 })) {
      yield row.get('user_id').toString();
    }
  }

  private async insertEntries(entries: [userId: string, item: TimelineItem][], urgency: Urgency): Promise<void> {
    if (entries.length === 0) return;
    await inSpan('timeline writes', { attributes: { 'twtr.timeline.rows': entries.length } }, () =>
      this.inBudget(
        urgency,
        'INSERT INTO home_timeline (user_id, tweet_id, author_id, original_id, reposted_by) VALUES (?, ?, ?, ?, ?)',
        // Unset, not null, for an original: a null would write two cell tombstones into every row.
        entries.map(([userId, item]) => [
          userId,
          item.tweetId,
          item.authorId,
          item.originalId ?? cql.unset,
          item.repostedBy ?? cql.unset,
        ]),
      ),
    );
    fanoutRowsWritten.inc(entries.length);
  }

  private deleteEntries(entries: [userId: string, tweetId: string][], urgency: Urgency): Promise<void> {
    return this.inBudget(urgency, 'DELETE FROM home_timeline WHERE user_id = ? AND tweet_id = ?', entries);
  }

  /** One row per parameter list, in batches by replica, each batch taking a place in the budget. */
  private async inBudget(urgency: Urgency, query: string, parameters: unknown[][]): Promise<void> {
    const batches = batchesByReplica(
      this.cassandra,
      parameters,
      ([userId]) => cql.Uuid.fromString(String(userId)).getBuffer(),
      BATCH_ROWS,
    );
    await this.budget.runAll(
      urgency,
      batches.map(
        (rows) => () =>
          rows.length === 1
            ? this.cassandra.execute(query, rows[0])
            : this.cassandra.batch(
                rows.map((params) => ({ query, params })),
                { prepare: true, logged: false },
              ),
      ),
    );
  }

  /** Upkeep: in the budget behind every write that is waiting. */
  private async trimSome(userIds: readonly string[]): Promise<void> {
    await this.budget.runAll(
      'background',
      userIds.map(
        (userId) => () =>
          trimToNewest(this.cassandra, {
            table: 'home_timeline',
            partitionKey: 'user_id',
            clusteringKey: 'tweet_id',
            key: userId,
          }),
      ),
    );
  }
}
