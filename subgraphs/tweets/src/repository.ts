import { cql, type CassandraClient } from '../../shared/cassandra.js';
import type { Page, PageRequest } from '../../shared/paging.js';
import type { TweetModel } from './model.js';

/** The tweets keyspace: tweets_by_id and the per-author index tweets_by_author (see migrations/tweets). */
export class TweetRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  /** A fresh time-ordered id; unique even for two tweets in one millisecond. */
  newId(createdAt: Date): string {
    return cql.TimeUuid.fromDate(createdAt).toString();
  }

  async insert(tweet: TweetModel): Promise<void> {
    // Index first: a tweet is readable by id only once the author's list can show it too.
    await this.cassandra.execute('INSERT INTO tweets_by_author (author_id, id) VALUES (?, ?)', [tweet.authorId, tweet.id]);
    await this.cassandra.execute('INSERT INTO tweets_by_id (id, author_id, text, created_at) VALUES (?, ?, ?, ?)', [
      tweet.id,
      tweet.authorId,
      tweet.text,
      tweet.createdAt,
    ]);
  }

  async findByIds(ids: readonly string[]): Promise<TweetModel[]> {
    if (ids.length === 0) return [];
    const result = await this.cassandra.execute('SELECT id, author_id, text, created_at FROM tweets_by_id WHERE id IN ?', [
      ids,
    ]);
    return result.rows.map((row) => ({
      id: row.get('id').toString(),
      authorId: row.get('author_id').toString(),
      text: row.get('text'),
      createdAt: row.get('created_at'),
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
}
