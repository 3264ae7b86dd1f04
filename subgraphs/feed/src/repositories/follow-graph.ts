import { type CassandraClient, executeConcurrent } from '../../../../platform/cassandra/client.js';

/**
 * The feed's own copy of who follows whom (followers_by_user, following_by_user), kept from follow events, and which
 * read-time authors each user follows (read_time_followees_by_user). Rows are written at the follow's version, so
 * stale events never undo newer ones.
 */
export class FollowGraphRepository {
  constructor(
    private readonly cassandra: CassandraClient,
    /** Follower ids read per page while fanning out. Defaults to 1,000. */
    private readonly followerPageSize = 1000,
    /** Read-time followees read per page when a feed is read. Defaults to 100. */
    private readonly readTimeFolloweePageSize = 100,
  ) {}

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
        {
          query: 'DELETE FROM read_time_followees_by_user WHERE follower_id = ? AND author_id = ?',
          params: [followerId, userId],
        },
      ],
      { prepare: true, logged: false, timestamp: version },
    );
  }

  async isFollower(userId: string, followerId: string): Promise<boolean> {
    const result = await this.cassandra.execute(
      'SELECT follower_id FROM followers_by_user WHERE user_id = ? AND follower_id = ?',
      [userId, followerId],
    );
    return result.rowLength > 0;
  }

  /** Which of the given ids still follow the user (one query). */
  async followersAmong(userId: string, followerIds: readonly string[]): Promise<string[]> {
    if (followerIds.length === 0) return [];
    const result = await this.cassandra.execute(
      'SELECT follower_id FROM followers_by_user WHERE user_id = ? AND follower_id IN ?',
      [userId, followerIds],
    );
    return result.rows.map((row) => row.get('follower_id').toString());
  }

  /** Which of the given ids the user follows (one query). */
  async followeesAmong(followerId: string, followeeIds: readonly string[]): Promise<string[]> {
    if (followeeIds.length === 0) return [];
    const result = await this.cassandra.execute(
      'SELECT followee_id FROM following_by_user WHERE follower_id = ? AND followee_id IN ?',
      [followerId, followeeIds],
    );
    return result.rows.map((row) => row.get('followee_id').toString());
  }

  /** Records that these users follow a read-time author (idempotent). */
  async indexReadTimeFollowers(authorId: string, followerIds: readonly string[]): Promise<void> {
    await executeConcurrent(
      this.cassandra,
      'INSERT INTO read_time_followees_by_user (follower_id, author_id) VALUES (?, ?)',
      followerIds.map((followerId) => [followerId, authorId]),
      32,
    );
  }

  /**
   * The read-time authors a user follows or has followed, a page at a time: candidates only (see
   * migrations/feed/005), bounded by the read-time authors the user follows, not by everyone they follow.
   */
  async *readTimeFolloweeCandidatePages(followerId: string): AsyncGenerator<string[]> {
    let pageState: string | undefined;
    do {
      const result = await this.cassandra.execute(
        'SELECT author_id FROM read_time_followees_by_user WHERE follower_id = ?',
        [followerId],
        { fetchSize: this.readTimeFolloweePageSize, pageState },
      );
      yield result.rows.map((row) => row.get('author_id').toString());
      pageState = result.pageState ?? undefined;
    } while (pageState);
  }

  /** Everyone the user follows, at once: for a timeline rebuild, which reads each of their tweets anyway. */
  async followeeIds(followerId: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const row of await this.cassandra.execute(
      'SELECT followee_id FROM following_by_user WHERE follower_id = ?',
      [followerId],
      {
        fetchSize: 5000,
      },
    )) {
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
}
