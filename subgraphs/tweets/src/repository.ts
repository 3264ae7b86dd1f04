import { type CassandraClient, type Statement } from '../../../platform/cassandra/client.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';
import type { TweetModel } from './model.js';

/**
 * The tweets keyspace: tweets_by_id and the per-author index tweets_by_author (see migrations/tweets).
 * Writes are returned as statements so the service can commit them with their events (shared/outbox.ts).
 */
export class TweetRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  /** From user.created: who goes by a name (usernames never change). */
  async rememberUser(usernameKey: string, userId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO known_users (username_key, user_id) VALUES (?, ?)', [usernameKey, userId]);
  }

  /** The ids of the users known by these names (keys), in one query; names no one has are left out. */
  async usersNamed(usernameKeys: readonly string[]): Promise<Map<string, string>> {
    if (usernameKeys.length === 0) return new Map();
    const result = await this.cassandra.execute('SELECT username_key, user_id FROM known_users WHERE username_key IN ?', [
      usernameKeys,
    ]);
    return new Map(result.rows.map((row) => [row.get('username_key') as string, row.get('user_id').toString() as string]));
  }

  insert(tweet: TweetModel): Statement[] {
    return [
      {
        query:
          'INSERT INTO tweets_by_id (id, author_id, text, created_at, in_reply_to_id, mention_ids) VALUES (?, ?, ?, ?, ?, ?)',
        params: [tweet.id, tweet.authorId, tweet.text, tweet.createdAt, tweet.inReplyToId, tweet.mentionIds],
      },
      { query: 'INSERT INTO tweets_by_author (author_id, id) VALUES (?, ?)', params: [tweet.authorId, tweet.id] },
      ...(tweet.inReplyToId
        ? [{ query: 'INSERT INTO replies_by_parent (parent_id, id) VALUES (?, ?)', params: [tweet.inReplyToId, tweet.id] }]
        : []),
    ];
  }

  markDeleted(tweet: TweetModel, deletedAt: Date): Statement[] {
    return [
      { query: 'UPDATE tweets_by_id SET deleted_at = ? WHERE id = ?', params: [deletedAt, tweet.id] },
      { query: 'DELETE FROM tweets_by_author WHERE author_id = ? AND id = ?', params: [tweet.authorId, tweet.id] },
      ...(tweet.inReplyToId
        ? [{ query: 'DELETE FROM replies_by_parent WHERE parent_id = ? AND id = ?', params: [tweet.inReplyToId, tweet.id] }]
        : []),
    ];
  }

  /** Deleted tweets included (they carry deletedAt); the service decides what to show. */
  async findByIds(ids: readonly string[]): Promise<TweetModel[]> {
    if (ids.length === 0) return [];
    const result = await this.cassandra.execute(
      'SELECT id, author_id, text, created_at, in_reply_to_id, mention_ids, deleted_at FROM tweets_by_id WHERE id IN ?',
      [ids],
    );
    return result.rows
      .filter((row) => row.get('author_id') !== null)
      .map((row) => ({
        id: row.get('id').toString(),
        authorId: row.get('author_id').toString(),
        text: row.get('text'),
        createdAt: row.get('created_at'),
        inReplyToId: row.get('in_reply_to_id')?.toString() ?? null,
        // A list column gains its elements again each time the same insert is applied twice (a retried or speculated
        // write): each mention is once in it by construction, so once here.
        mentionIds: [...new Set<string>((row.get('mention_ids') ?? []).map((id: unknown) => String(id)))],
        deletedAt: row.get('deleted_at') ?? null,
      }));
  }

  /** Ids of an author's tweets, newest first, after the given id. */
  async idsByAuthor(authorId: string, page: PageRequest): Promise<Page<string>> {
    const query = page.afterId
      ? 'SELECT id FROM tweets_by_author WHERE author_id = ? AND id < ? LIMIT ?'
      : 'SELECT id FROM tweets_by_author WHERE author_id = ? LIMIT ?';
    const params = page.afterId ? [authorId, page.afterId, page.limit + 1] : [authorId, page.limit + 1];
    const result = await this.cassandra.execute(query, params);
    const ids = result.rows.map((row) => row.get('id').toString() as string);
    return { items: ids.slice(0, page.limit), hasNextPage: ids.length > page.limit };
  }

  /** Ids of a tweet's live replies, oldest first, after the given id. */
  async replyIds(parentId: string, page: PageRequest): Promise<Page<string>> {
    const query = page.afterId
      ? 'SELECT id FROM replies_by_parent WHERE parent_id = ? AND id > ? LIMIT ?'
      : 'SELECT id FROM replies_by_parent WHERE parent_id = ? LIMIT ?';
    const params = page.afterId ? [parentId, page.afterId, page.limit + 1] : [parentId, page.limit + 1];
    const ids = (await this.cassandra.execute(query, params)).rows.map((row) => row.get('id').toString() as string);
    return { items: ids.slice(0, page.limit), hasNextPage: ids.length > page.limit };
  }

  /** Live replies of each parent, in one query for all of them (a page of tweets asks once). */
  async replyCounts(parentIds: readonly string[]): Promise<Map<string, number>> {
    const result = await this.cassandra.execute(
      'SELECT parent_id, COUNT(*) AS n FROM replies_by_parent WHERE parent_id IN ? GROUP BY parent_id',
      [parentIds],
    );
    return new Map(result.rows.map((row) => [row.get('parent_id').toString() as string, Number(row.get('n'))]));
  }

  /** Exact: the author's index holds one row per live tweet. */
  async countByAuthor(authorId: string): Promise<number> {
    const result = await this.cassandra.execute('SELECT COUNT(*) AS n FROM tweets_by_author WHERE author_id = ?', [authorId]);
    return Number(result.first().get('n'));
  }
}
