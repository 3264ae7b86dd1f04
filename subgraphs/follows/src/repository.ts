import type { CassandraClient } from '../../shared/cassandra.js';

/** The follows keyspace: known_users, followers and following (see migrations/follows). */
export class FollowRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  async rememberUser(userId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO known_users (id) VALUES (?)', [userId]);
  }

  async userExists(userId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT id FROM known_users WHERE id = ?', [userId]);
    return result.rowLength > 0;
  }

  /** Both directions; writing the same pair again changes nothing. */
  async insert(followerId: string, followeeId: string, createdAt: Date): Promise<void> {
    await Promise.all([
      this.cassandra.execute('INSERT INTO followers (followee_id, follower_id, created_at) VALUES (?, ?, ?)', [
        followeeId,
        followerId,
        createdAt,
      ]),
      this.cassandra.execute('INSERT INTO following (follower_id, followee_id, created_at) VALUES (?, ?, ?)', [
        followerId,
        followeeId,
        createdAt,
      ]),
    ]);
  }

  async delete(followerId: string, followeeId: string): Promise<void> {
    await Promise.all([
      this.cassandra.execute('DELETE FROM followers WHERE followee_id = ? AND follower_id = ?', [followeeId, followerId]),
      this.cassandra.execute('DELETE FROM following WHERE follower_id = ? AND followee_id = ?', [followerId, followeeId]),
    ]);
  }

  async isFollowing(followerId: string, followeeId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT followee_id FROM following WHERE follower_id = ? AND followee_id = ?', [
      followerId,
      followeeId,
    ]);
    return result.rowLength > 0;
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
}
