import {
  type CassandraClient,
  cql,
  LIGHTWEIGHT_TRANSACTION,
  outcomeUnknown,
  SERIAL_READ,
  type Statement,
} from '../../../platform/cassandra/client.js';
import { countsByKind } from '../../../platform/cassandra/grouped-counts.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';
import { ENGAGEMENT_KINDS, type EngagementKind, NO_COUNTS } from './model.js';

type TimeUuid = InstanceType<typeof cql.TimeUuid>;

/** A user's engagement of one kind with one tweet, as the truth row holds it. */
export interface Engagement {
  engagedAt: TimeUuid;
  active: boolean;
  /**
   * The write time of its beginning (microseconds): a lightweight transaction writes at its Paxos ballot, so a later
   * engagement of the pair has a later version. Its index rows are written at it and deleted just after it.
   */
  version: number;
  /** When it last changed (its beginning, or its end), in milliseconds. */
  changedAt: number;
}

/** Engagements in a list: who or which tweet, and when (the list's order and cursor). */
export interface Listed {
  id: string;
  engagedAt: string;
}

export interface KnownTweet {
  authorId: string | null;
  deleted: boolean;
}

/**
 * The engagement keyspace (see migrations/engagement). `engagements` is the truth for a pair, written only with
 * lightweight transactions; the indexes are written with the events, at the engagement's version.
 */
export class EngagementRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  /** From tweet.created. Never touches `deleted`, so a deletion that arrived first stands. */
  async rememberTweet(tweetId: string, authorId: string): Promise<void> {
    await this.cassandra.execute('UPDATE known_tweets SET author_id = ? WHERE tweet_id = ?', [authorId, tweetId]);
  }

  async forgetTweet(tweetId: string): Promise<void> {
    await this.cassandra.execute('UPDATE known_tweets SET deleted = true WHERE tweet_id = ?', [tweetId]);
  }

  async knownTweet(tweetId: string): Promise<KnownTweet | null> {
    const row = (
      await this.cassandra.execute('SELECT author_id, deleted FROM known_tweets WHERE tweet_id = ?', [tweetId])
    ).first();
    return row ? { authorId: row.get('author_id')?.toString() ?? null, deleted: row.get('deleted') === true } : null;
  }

  /** Which of the tweets are known to be deleted, in one query. */
  async deletedAmong(tweetIds: readonly string[]): Promise<Set<string>> {
    if (tweetIds.length === 0) return new Set();
    const result = await this.cassandra.execute('SELECT tweet_id, deleted FROM known_tweets WHERE tweet_id IN ?', [tweetIds]);
    return new Set(result.rows.filter((row) => row.get('deleted') === true).map((row) => row.get('tweet_id').toString()));
  }

  /** The pair's engagement of this kind, read at SERIAL; undefined when there never was one. */
  async current(kind: EngagementKind, userId: string, tweetId: string): Promise<Engagement | undefined> {
    const row = (
      await this.cassandra.execute(
        'SELECT engaged_at, active, WRITETIME(engaged_at) AS version, WRITETIME(active) AS changed FROM engagements WHERE user_id = ? AND kind = ? AND tweet_id = ?',
        [userId, kind, tweetId],
        SERIAL_READ,
      )
    ).first();
    return row
      ? {
          engagedAt: row.get('engaged_at'),
          active: row.get('active') === true,
          version: Number(row.get('version')),
          changedAt: Number(row.get('changed')) / 1000,
        }
      : undefined;
  }

  /**
   * Begins an engagement unless one is active, conditional on the state read (`previous`); the engagement that holds
   * now, or undefined when another change got in between (read again and retry).
   */
  async begin(kind: EngagementKind, userId: string, tweetId: string, previous?: Engagement): Promise<Engagement | undefined> {
    const engagedAt = cql.TimeUuid.now();
    const [query, params] = previous
      ? [
          'UPDATE engagements SET engaged_at = ?, active = true WHERE user_id = ? AND kind = ? AND tweet_id = ? IF engaged_at = ? AND active = false',
          [engagedAt, userId, kind, tweetId, previous.engagedAt],
        ]
      : [
          'INSERT INTO engagements (user_id, kind, tweet_id, engaged_at, active) VALUES (?, ?, ?, ?, true) IF NOT EXISTS',
          [userId, kind, tweetId, engagedAt],
        ];
    return this.transition(kind, userId, tweetId, query, params, (now) => now?.engagedAt.equals(engagedAt) === true);
  }

  /** Ends the active engagement read (`current`); undefined when another change got in between. */
  async end(kind: EngagementKind, userId: string, tweetId: string, current: Engagement): Promise<Engagement | undefined> {
    return this.transition(
      kind,
      userId,
      tweetId,
      'UPDATE engagements SET active = false WHERE user_id = ? AND kind = ? AND tweet_id = ? IF engaged_at = ? AND active = true',
      [userId, kind, tweetId, current.engagedAt],
      (now) => now !== undefined && now.engagedAt.equals(current.engagedAt) && !now.active,
    );
  }

  /** A conditional write whose outcome, if the answer was lost, is read back; the pair's state after it, if applied. */
  private async transition(
    kind: EngagementKind,
    userId: string,
    tweetId: string,
    query: string,
    params: unknown[],
    appliedIf: (now: Engagement | undefined) => boolean,
  ): Promise<Engagement | undefined> {
    try {
      if (!(await this.cassandra.execute(query, params, LIGHTWEIGHT_TRANSACTION)).wasApplied()) return undefined;
    } catch (error) {
      if (!outcomeUnknown(error)) throw error;
    }
    // Read back at SERIAL for the version, which only the database knows (and the outcome, if it was lost).
    const now = await this.current(kind, userId, tweetId);
    return appliedIf(now) ? now : undefined;
  }

  /** Whether the engagement's index rows are written (a repeat finds them; a request that died before did not). */
  async indexed(kind: EngagementKind, userId: string, tweetId: string, engagement: Engagement): Promise<boolean> {
    const result = await this.cassandra.execute(
      'SELECT tweet_id FROM engagements_by_user WHERE user_id = ? AND kind = ? AND engaged_at = ? AND tweet_id = ?',
      [userId, kind, engagement.engagedAt, tweetId],
    );
    return result.rowLength > 0;
  }

  indexRows(kind: EngagementKind, userId: string, tweetId: string, engagedAt: TimeUuid): Statement[] {
    return [
      {
        query: 'INSERT INTO engagements_by_tweet (tweet_id, kind, engaged_at, user_id) VALUES (?, ?, ?, ?)',
        params: [tweetId, kind, engagedAt, userId],
      },
      {
        query: 'INSERT INTO engagements_by_user (user_id, kind, engaged_at, tweet_id) VALUES (?, ?, ?, ?)',
        params: [userId, kind, engagedAt, tweetId],
      },
    ];
  }

  unindexRows(kind: EngagementKind, userId: string, tweetId: string, engagedAt: TimeUuid): Statement[] {
    return [
      {
        query: 'DELETE FROM engagements_by_tweet WHERE tweet_id = ? AND kind = ? AND engaged_at = ? AND user_id = ?',
        params: [tweetId, kind, engagedAt, userId],
      },
      {
        query: 'DELETE FROM engagements_by_user WHERE user_id = ? AND kind = ? AND engaged_at = ? AND tweet_id = ?',
        params: [userId, kind, engagedAt, tweetId],
      },
    ];
  }

  /** Live engagements of each kind with each tweet, in one query for all of them (a page of tweets asks once). */
  async counts(tweetIds: readonly string[]): Promise<Map<string, Record<EngagementKind, number>>> {
    const result = await this.cassandra.execute(
      'SELECT tweet_id, kind, COUNT(*) AS n FROM engagements_by_tweet WHERE tweet_id IN ? GROUP BY tweet_id, kind',
      [tweetIds],
    );
    return countsByKind(result.rows, 'tweet_id', NO_COUNTS);
  }

  /** The user's active engagements with the tweets, as `kind:tweetId`, in one query. */
  async engagedAmong(userId: string, tweetIds: readonly string[]): Promise<Set<string>> {
    const result = await this.cassandra.execute(
      'SELECT kind, tweet_id, active FROM engagements WHERE user_id = ? AND kind IN ? AND tweet_id IN ?',
      [userId, ENGAGEMENT_KINDS, tweetIds],
    );
    return new Set(
      result.rows.filter((row) => row.get('active') === true).map((row) => `${row.get('kind')}:${row.get('tweet_id')}`),
    );
  }

  /** Users engaged with a tweet, newest first. */
  usersEngagedWith(kind: EngagementKind, tweetId: string, page: PageRequest): Promise<Page<Listed>> {
    return this.pageOf(
      'SELECT engaged_at, user_id AS id FROM engagements_by_tweet WHERE tweet_id = ? AND kind = ?',
      tweetId,
      kind,
      page,
    );
  }

  /** Tweets a user engaged with, newest first. */
  tweetsEngagedBy(kind: EngagementKind, userId: string, page: PageRequest): Promise<Page<Listed>> {
    return this.pageOf(
      'SELECT engaged_at, tweet_id AS id FROM engagements_by_user WHERE user_id = ? AND kind = ?',
      userId,
      kind,
      page,
    );
  }

  private async pageOf(select: string, key: string, kind: EngagementKind, page: PageRequest): Promise<Page<Listed>> {
    const query = page.afterId ? `${select} AND engaged_at < ? LIMIT ?` : `${select} LIMIT ?`;
    const params = page.afterId ? [key, kind, page.afterId, page.limit + 1] : [key, kind, page.limit + 1];
    const rows = (await this.cassandra.execute(query, params)).rows.map((row) => ({
      id: row.get('id').toString() as string,
      engagedAt: row.get('engaged_at').toString() as string,
    }));
    return { items: rows.slice(0, page.limit), hasNextPage: rows.length > page.limit };
  }
}
