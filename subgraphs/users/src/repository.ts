import {
  type CassandraClient,
  LIGHTWEIGHT_TRANSACTION,
  outcomeUnknown,
  SERIAL_READ,
  type Statement,
} from '../../../platform/cassandra/client.js';
import type { UserModel } from './model.js';

export interface StoredUser extends UserModel {
  passwordHash: string;
}

/** The users keyspace: users_by_id and user_ids_by_username (see migrations/users). */
export class UserRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  insert(user: StoredUser): Statement {
    return {
      query: 'INSERT INTO users_by_id (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
      params: [user.id, user.username, user.displayName, user.passwordHash, user.createdAt],
    };
  }

  async updateDisplayName(id: string, displayName: string): Promise<void> {
    await this.cassandra.execute('UPDATE users_by_id SET display_name = ? WHERE id = ?', [displayName, id]);
  }

  /** Lightweight transaction: true when this call claimed the name, false when someone holds it. */
  async claimUsername(usernameKey: string, userId: string): Promise<boolean> {
    try {
      const result = await this.cassandra.execute(
        'INSERT INTO user_ids_by_username (username_key, user_id) VALUES (?, ?) IF NOT EXISTS',
        [usernameKey, userId],
        LIGHTWEIGHT_TRANSACTION,
      );
      return result.wasApplied();
    } catch (error) {
      // Under contention a Paxos round can time out with its outcome unknown; a serial read tells who owns the name.
      if (!outcomeUnknown(error)) throw error;
      const owner = await this.cassandra.execute(
        'SELECT user_id FROM user_ids_by_username WHERE username_key = ?',
        [usernameKey],
        SERIAL_READ,
      );
      return owner.first()?.get('user_id')?.toString() === userId;
    }
  }

  /**
   * Takes over a name whose claim is older than `graceMs` and has no account behind it: its sign-up died between the
   * claim and the account write. Conditional on the old owner, so two takers cannot both win.
   */
  async takeOverAbandonedClaim(usernameKey: string, userId: string, graceMs: number): Promise<boolean> {
    const claim = (
      await this.cassandra.execute(
        'SELECT user_id, WRITETIME(user_id) AS written FROM user_ids_by_username WHERE username_key = ?',
        [usernameKey],
        SERIAL_READ,
      )
    ).first();
    if (!claim) return this.claimUsername(usernameKey, userId);
    const ownerId = claim.get('user_id').toString();
    const claimedAtMs = Number(claim.get('written')) / 1000;
    if (Date.now() - claimedAtMs < graceMs || (await this.findByIds([ownerId])).length > 0) return false;
    const result = await this.cassandra.execute(
      'UPDATE user_ids_by_username SET user_id = ? WHERE username_key = ? IF user_id = ?',
      [userId, usernameKey, ownerId],
      LIGHTWEIGHT_TRANSACTION,
    );
    return result.wasApplied();
  }

  /** Gives a claimed name back (when the account could not be written after all). */
  async releaseUsername(usernameKey: string, userId: string): Promise<void> {
    await this.cassandra.execute(
      'DELETE FROM user_ids_by_username WHERE username_key = ? IF user_id = ?',
      [usernameKey, userId],
      LIGHTWEIGHT_TRANSACTION,
    );
  }

  async findIdByUsername(usernameKey: string): Promise<string | null> {
    const result = await this.cassandra.execute('SELECT user_id FROM user_ids_by_username WHERE username_key = ?', [usernameKey]);
    return result.first()?.get('user_id')?.toString() ?? null;
  }

  async findByIds(ids: readonly string[]): Promise<StoredUser[]> {
    if (ids.length === 0) return [];
    const result = await this.cassandra.execute(
      'SELECT id, username, display_name, password_hash, created_at FROM users_by_id WHERE id IN ?',
      [ids],
    );
    return result.rows.map((row) => ({
      id: row.get('id').toString(),
      username: row.get('username'),
      displayName: row.get('display_name'),
      passwordHash: row.get('password_hash'),
      createdAt: row.get('created_at'),
    }));
  }
}
