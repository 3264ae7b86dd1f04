import type { CassandraClient } from '../../../../platform/cassandra/client.js';

/**
 * The feed's own copy of who follows whom (followers_by_user, following_by_user), kept from follow events. Rows are
 * written at the follow's version, so stale events never undo newer ones.
 */
export class FollowGraphRepository {
  constructor(
    private readonly cassandra: CassandraClient,
    /** Follower ids read per page while fanning out. Defaults to 1,000. */
    private readonly followerPageSize = 1000,
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
