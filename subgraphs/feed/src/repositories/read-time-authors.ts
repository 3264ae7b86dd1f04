import type { CassandraClient } from '../../../../platform/cassandra/client.js';

/** Authors with too many followers to fan out on write (read_time_authors): merged into feeds when they are read. */
export class ReadTimeAuthorsRepository {
  constructor(private readonly cassandra: CassandraClient) {}

  async isReadTimeAuthor(authorId: string): Promise<boolean> {
    return (
      (await this.cassandra.execute('SELECT author_id FROM read_time_authors WHERE author_id = ?', [authorId])).rowLength > 0
    );
  }

  async readTimeAuthorsAmong(authorIds: readonly string[]): Promise<string[]> {
    if (authorIds.length === 0) return [];
    const result = await this.cassandra.execute('SELECT author_id FROM read_time_authors WHERE author_id IN ?', [authorIds]);
    return result.rows.map((row) => row.get('author_id').toString());
  }

  /** Whether the author is read-time and their followers have been indexed (read_time_followees_by_user). */
  async followersIndexed(authorId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT followers_indexed FROM read_time_authors WHERE author_id = ?', [
      authorId,
    ]);
    return result.first()?.get('followers_indexed') === true;
  }

  /** Call once the followers' index entries are written or durably queued. */
  async markReadTimeAuthor(authorId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO read_time_authors (author_id, since, followers_indexed) VALUES (?, ?, true)', [
      authorId,
      new Date(),
    ]);
  }

  async unmarkReadTimeAuthor(authorId: string): Promise<void> {
    await this.cassandra.execute('DELETE FROM read_time_authors WHERE author_id = ?', [authorId]);
  }
}
