import { type CassandraClient, cql, outcomeUnknown, type Statement } from '../../../platform/cassandra/client.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';

type TimeUuid = InstanceType<typeof cql.TimeUuid>;

export interface Relationship {
  userId: string;
  followedAt: string;
}

/**
 * The follows keyspace (see migrations/follows). `following` is the source of truth for a pair and is only written
 * with lightweight transactions, which serialize concurrent follow/unfollow of one pair; the other tables are written
 * in a batch at the relationship's version, so a stale write can never overtake a newer one.
 */
export class FollowRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  async rememberUser(userId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO known_users (id) VALUES (?)', [userId]);
  }

  async userExists(userId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT id FROM known_users WHERE id = ?', [userId]);
    return result.rowLength > 0;
  }

  /** Starts the relationship unless it exists; either way returns when it began, and whether this call began it. */
  async claimFollow(followerId: string, followeeId: string): Promise<{ followedAt: TimeUuid; isNew: boolean }> {
    const followedAt = newRelationshipStart();
    try {
      const result = await this.cassandra.execute(
        'INSERT INTO following (follower_id, followee_id, followed_at, created_at) VALUES (?, ?, ?, ?) IF NOT EXISTS',
        [followerId, followeeId, followedAt, followedAt.getDate()],
      );
      if (result.wasApplied()) return { followedAt, isNew: true };
      return { followedAt: result.first().get('followed_at') ?? followedAt, isNew: false };
    } catch (error) {
      if (!outcomeUnknown(error)) throw error;
      const current = await this.currentFollow(followerId, followeeId);
      if (current === undefined) return this.claimFollow(followerId, followeeId);
      // Ours if the stored start is the one this call wrote; either way the caller checks its rows before publishing.
      return { followedAt: current ?? followedAt, isNew: current?.equals(followedAt) ?? true };
    }
  }

  /** Ends the relationship; returns when it had begun, or null if there was none. */
  async releaseFollow(followerId: string, followeeId: string): Promise<TimeUuid | null> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const followedAt = await this.currentFollow(followerId, followeeId);
      if (followedAt === undefined) return null;
      try {
        // Conditional on the relationship read, so a concurrent unfollow-and-follow is not deleted by mistake.
        const result = await this.cassandra.execute(
          'DELETE FROM following WHERE follower_id = ? AND followee_id = ? IF followed_at = ?',
          [followerId, followeeId, followedAt],
        );
        if (result.wasApplied()) return followedAt;
      } catch (error) {
        if (!outcomeUnknown(error)) throw error;
        if ((await this.currentFollow(followerId, followeeId)) === undefined) return followedAt;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
    }
    throw new Error('the relationship kept changing while it was being ended');
  }

  /** When the relationship the pair's follower row was written for began; null when there is no such row. */
  async followerRowSince(followerId: string, followeeId: string): Promise<TimeUuid | null> {
    const row = (
      await this.cassandra.execute('SELECT followed_at FROM followers WHERE followee_id = ? AND follower_id = ?', [
        followeeId,
        followerId,
      ])
    ).first();
    return (row?.get('followed_at') as TimeUuid | undefined) ?? null;
  }

  /**
   * When a follower row outlived its relationship (an unfollow that died between its two writes), when that
   * relationship began; otherwise null. A follower row of the current relationship is no leftover: a follow that
   * began after the caller found none wrote it.
   */
  async orphanedFollow(followerId: string, followeeId: string): Promise<TimeUuid | null> {
    const leftover = await this.followerRowSince(followerId, followeeId);
    if (!leftover) return null;
    const current = await this.currentFollow(followerId, followeeId);
    return current?.equals(leftover) ? null : leftover;
  }

  /** The relationship's start (null if unknown), or undefined when there is none; read at SERIAL. */
  private async currentFollow(followerId: string, followeeId: string): Promise<TimeUuid | null | undefined> {
    const current = await this.cassandra.execute(
      'SELECT followed_at FROM following WHERE follower_id = ? AND followee_id = ?',
      [followerId, followeeId],
      { consistency: cql.consistencies.serial },
    );
    return current.rowLength === 0 ? undefined : ((current.first().get('followed_at') as TimeUuid | null) ?? null);
  }

  followRows(followerId: string, followeeId: string, followedAt: TimeUuid): Statement[] {
    return [
      {
        query: 'INSERT INTO followers (followee_id, follower_id, followed_at, created_at) VALUES (?, ?, ?, ?)',
        params: [followeeId, followerId, followedAt, followedAt.getDate()],
      },
      {
        query: 'INSERT INTO followers_by_time (followee_id, followed_at, follower_id) VALUES (?, ?, ?)',
        params: [followeeId, followedAt, followerId],
      },
      {
        query: 'INSERT INTO following_by_time (follower_id, followed_at, followee_id) VALUES (?, ?, ?)',
        params: [followerId, followedAt, followeeId],
      },
    ];
  }

  unfollowRows(followerId: string, followeeId: string, followedAt: TimeUuid): Statement[] {
    return [
      { query: 'DELETE FROM followers WHERE followee_id = ? AND follower_id = ?', params: [followeeId, followerId] },
      {
        query: 'DELETE FROM followers_by_time WHERE followee_id = ? AND followed_at = ? AND follower_id = ?',
        params: [followeeId, followedAt, followerId],
      },
      {
        query: 'DELETE FROM following_by_time WHERE follower_id = ? AND followed_at = ? AND followee_id = ?',
        params: [followerId, followedAt, followeeId],
      },
    ];
  }

  /** Which of the given users the follower follows, in one query. */
  async followedAmong(followerId: string, followeeIds: readonly string[]): Promise<Set<string>> {
    const result = await this.cassandra.execute('SELECT followee_id FROM following WHERE follower_id = ? AND followee_id IN ?', [
      followerId,
      followeeIds,
    ]);
    return new Set(result.rows.map((row) => row.get('followee_id').toString()));
  }

  /** Exact: counts the partition's rows, so retries and duplicates cannot make it drift. */
  async followerCount(userId: string): Promise<number> {
    const result = await this.cassandra.execute('SELECT COUNT(*) AS n FROM followers WHERE followee_id = ?', [userId]);
    return Number(result.first().get('n'));
  }

  async followingCount(userId: string): Promise<number> {
    const result = await this.cassandra.execute('SELECT COUNT(*) AS n FROM following WHERE follower_id = ?', [userId]);
    return Number(result.first().get('n'));
  }

  followersOf(userId: string, page: PageRequest): Promise<Page<Relationship>> {
    return this.pageOf('SELECT followed_at, follower_id AS user_id FROM followers_by_time WHERE followee_id = ?', userId, page);
  }

  followingOf(userId: string, page: PageRequest): Promise<Page<Relationship>> {
    return this.pageOf('SELECT followed_at, followee_id AS user_id FROM following_by_time WHERE follower_id = ?', userId, page);
  }

  private async pageOf(select: string, userId: string, page: PageRequest): Promise<Page<Relationship>> {
    const query = page.afterId ? `${select} AND followed_at < ? LIMIT ?` : `${select} LIMIT ?`;
    const params = page.afterId ? [userId, page.afterId, page.limit + 1] : [userId, page.limit + 1];
    const rows = (await this.cassandra.execute(query, params)).rows.map((row) => ({
      userId: row.get('user_id').toString() as string,
      followedAt: row.get('followed_at').toString() as string,
    }));
    return { items: rows.slice(0, page.limit), hasNextPage: rows.length > page.limit };
  }
}

let lastStartMicros = 0;

/**
 * A relationship's start: a TimeUuid at least 2 µs after any other this process made. An unfollow deletes at its
 * relationship's version + 1 µs; two starts made within the same microsecond (TimeUuid.now counts 100 ns ticks, so a
 * burst of follows gets several) would let those deletes tie with, and so beat, the next relationship's writes.
 */
function newRelationshipStart(): TimeUuid {
  const micros = Math.max(Date.now() * 1000, lastStartMicros + 2);
  lastStartMicros = micros;
  return cql.TimeUuid.fromDate(new Date(Math.floor(micros / 1000)), (micros % 1000) * 10);
}

/** A relationship's version: its start time in microseconds, the write time of everything it wrote. */
export function versionOf(followedAt: TimeUuid): number {
  const { date, ticks } = followedAt.getDatePrecision();
  return date.getTime() * 1000 + Math.floor(ticks / 10);
}
