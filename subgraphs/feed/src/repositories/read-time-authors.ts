import type { CassandraClient, cql } from '../../../../platform/cassandra/client.js';

/** A read-time author whose followers were never indexed, and the write time of their mark (`since`), in µs. */
export interface UnindexedReadTimeAuthor {
  authorId: string;
  markedAt: InstanceType<typeof cql.Long>;
}

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

  /**
   * Read-time authors whose followers are not indexed (marked before migrations/feed/005 existed): the whole table, a
   * page at a time, filtered here (a boolean that may be null cannot be filtered in CQL). The table holds only authors
   * above the threshold, so it stays small.
   */
  async *unindexedReadTimeAuthors(pageSize = 1000): AsyncGenerator<UnindexedReadTimeAuthor> {
    for await (const row of await this.cassandra.execute(
      'SELECT author_id, followers_indexed, WRITETIME(since) AS marked_at FROM read_time_authors',
      [],
      { fetchSize: pageSize },
    )) {
      const markedAt = row.get('marked_at') as UnindexedReadTimeAuthor['markedAt'] | null;
      if (row.get('followers_indexed') === true || !markedAt) continue;
      yield { authorId: row.get('author_id').toString(), markedAt };
    }
  }

  /**
   * Records that an author's followers are indexed, written at the time of the mark it completes (`markedAt`): an
   * unmark that deletes that mark deletes this too (a tombstone wins a tie), so completing it after the author fell
   * back under the threshold leaves no row that reads as read-time (nor one that would skip indexing when they return).
   */
  async completeFollowersIndexed({ authorId, markedAt }: UnindexedReadTimeAuthor): Promise<void> {
    await this.cassandra.execute('UPDATE read_time_authors USING TIMESTAMP ? SET followers_indexed = true WHERE author_id = ?', [
      markedAt,
      authorId,
    ]);
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
