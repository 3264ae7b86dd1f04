import {
  type CassandraClient,
  cql,
  LIGHTWEIGHT_TRANSACTION,
  outcomeUnknown,
  SERIAL_READ,
  type Statement,
} from '../../../platform/cassandra/client.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';

type TimeUuid = InstanceType<typeof cql.TimeUuid>;

export interface Relationship {
  userId: string;
  followedAt: string;
}

/** A relationship as the `following` row holds it: when it began, and its version (see below). */
export interface FollowClaim {
  followedAt: TimeUuid;
  /**
   * The write time of its claim, in microseconds: Cassandra writes a lightweight transaction at its Paxos ballot, and
   * the ballots of one partition's transactions increase in the order they succeed, on whichever replica and clock
   * they ran. So a relationship claimed after another ended has a later version than that one's end.
   */
  version: number;
}

/** A relationship ended: which one, and the write time just after everything it wrote, where its deletes go. */
export interface EndedFollow {
  followedAt: TimeUuid;
  deleteAt: number;
}

/**
 * The follows keyspace (see migrations/follows). `following` is the source of truth for a pair and is only written
 * with lightweight transactions, which serialize concurrent follow/unfollow of one pair; the other tables are written
 * in a batch at the relationship's version, and deleted just after it, so a stale write can never overtake a newer
 * one, whatever order they arrive in.
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

  /**
   * Starts the relationship unless one exists; returns the relationship that holds now and whether this call began it,
   * or no relationship when the one this call began was already ended by a concurrent unfollow.
   */
  async claimFollow(followerId: string, followeeId: string): Promise<{ relationship: FollowClaim | null; isNew: boolean }> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const followedAt = cql.TimeUuid.now();
      let applied: boolean;
      try {
        const result = await this.cassandra.execute(
          'INSERT INTO following (follower_id, followee_id, followed_at, created_at) VALUES (?, ?, ?, ?) IF NOT EXISTS',
          [followerId, followeeId, followedAt, followedAt.getDate()],
          LIGHTWEIGHT_TRANSACTION,
        );
        applied = result.wasApplied();
      } catch (error) {
        if (!outcomeUnknown(error)) throw error;
        applied = (await this.currentFollow(followerId, followeeId))?.followedAt.equals(followedAt) ?? false;
      }
      // Read back at SERIAL for the claim's write time (its version), which only the database knows.
      const current = await this.currentFollow(followerId, followeeId);
      if (applied) return { relationship: current?.followedAt.equals(followedAt) ? current : null, isNew: true };
      if (current) return { relationship: current, isNew: false };
      // The relationship that held the pair ended meanwhile: claim again.
    }
    throw new Error('the relationship kept changing while it was being started');
  }

  /**
   * Ends the relationship; returns which one it was and where its deletes go (just after the rows it wrote), or null
   * if there was none.
   */
  async releaseFollow(followerId: string, followeeId: string): Promise<EndedFollow | null> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.currentFollow(followerId, followeeId);
      if (current === undefined) return null;
      // Read while the relationship still holds the pair, so no later one can have written this row yet.
      const rows = await this.followerRow(followerId, followeeId);
      const ended = { followedAt: current.followedAt, deleteAt: deletesAfter(current, rows) };
      try {
        // Conditional on the relationship read, so a concurrent unfollow-and-follow is not deleted by mistake.
        const result = await this.cassandra.execute(
          'DELETE FROM following WHERE follower_id = ? AND followee_id = ? IF followed_at = ?',
          [followerId, followeeId, current.followedAt],
          LIGHTWEIGHT_TRANSACTION,
        );
        if (result.wasApplied()) return ended;
      } catch (error) {
        if (!outcomeUnknown(error)) throw error;
        if (!(await this.currentFollow(followerId, followeeId))?.followedAt.equals(current.followedAt)) return ended;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
    }
    throw new Error('the relationship kept changing while it was being ended');
  }

  /** When the relationship the pair's follower row was written for began; null when there is no such row. */
  async followerRowSince(followerId: string, followeeId: string): Promise<TimeUuid | null> {
    return (await this.followerRow(followerId, followeeId))?.followedAt ?? null;
  }

  /**
   * A follower row that outlived its relationship (an unfollow that died between its two writes): which relationship
   * and where its deletes go; otherwise null. A follower row of the current relationship is no leftover: a follow
   * that began after the caller found none wrote it.
   */
  async orphanedFollow(followerId: string, followeeId: string): Promise<EndedFollow | null> {
    const leftover = await this.followerRow(followerId, followeeId);
    if (!leftover) return null;
    const current = await this.currentFollow(followerId, followeeId);
    return current?.followedAt.equals(leftover.followedAt)
      ? null
      : { followedAt: leftover.followedAt, deleteAt: leftover.writtenAt + 1 };
  }

  /** The pair's follower row: which relationship wrote it, and at what write time. */
  private async followerRow(followerId: string, followeeId: string): Promise<FollowerRow | null> {
    const row = (
      await this.cassandra.execute(
        'SELECT followed_at, WRITETIME(created_at) AS written_at FROM followers WHERE followee_id = ? AND follower_id = ?',
        [followeeId, followerId],
      )
    ).first();
    return row?.get('followed_at') ? { followedAt: row.get('followed_at'), writtenAt: Number(row.get('written_at')) } : null;
  }

  /** The relationship holding the pair, or undefined when there is none; read at SERIAL. */
  private async currentFollow(followerId: string, followeeId: string): Promise<FollowClaim | undefined> {
    const row = (
      await this.cassandra.execute(
        'SELECT followed_at, WRITETIME(created_at) AS version FROM following WHERE follower_id = ? AND followee_id = ?',
        [followerId, followeeId],
        SERIAL_READ,
      )
    ).first();
    return row ? { followedAt: row.get('followed_at'), version: Number(row.get('version')) } : undefined;
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

interface FollowerRow {
  followedAt: TimeUuid;
  writtenAt: number;
}

/**
 * Where a relationship's deletes go: just after its version, or after the write time of its follower row when that is
 * later (rows written before versions were the claim's write time were written at their start time by the service's
 * clock, which could run ahead of the database's).
 */
function deletesAfter(relationship: FollowClaim, rows: FollowerRow | null): number {
  const writtenAt = rows?.followedAt.equals(relationship.followedAt) ? rows.writtenAt : 0;
  return Math.max(relationship.version, writtenAt) + 1;
}
