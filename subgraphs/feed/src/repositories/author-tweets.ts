import type { CassandraClient } from '../../../../platform/cassandra/client.js';
import type { PageRequest } from '../../../../platform/graphql/paging.js';
import { shouldTrim, trimToNewest } from './trim.js';

/**
 * Each author's recent tweet ids (tweets_by_author), kept from tweet events: what follows backfill and reads merge;
 * and the author's deleted tweets (deleted_tweets_by_author), so a deletion cannot be undone by a late creation.
 */
export class AuthorTweetsRepository {
  constructor(
    private readonly cassandra: CassandraClient,
    /** Trim an author's list after about one in this many tweets. Defaults to 16. */
    private readonly trimEvery = 16,
  ) {}

  async recordTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO tweets_by_author (author_id, tweet_id) VALUES (?, ?)', [authorId, tweetId]);
    if (shouldTrim(authorId, tweetId, this.trimEvery)) {
      await trimToNewest(this.cassandra, {
        table: 'tweets_by_author',
        partitionKey: 'author_id',
        clusteringKey: 'tweet_id',
        key: authorId,
      });
    }
  }

  async hasTweet(authorId: string, tweetId: string): Promise<boolean> {
    const result = await this.cassandra.execute('SELECT tweet_id FROM tweets_by_author WHERE author_id = ? AND tweet_id = ?', [
      authorId,
      tweetId,
    ]);
    return result.rowLength > 0;
  }

  /** Takes the tweet out of the author's list and leaves a tombstone for it (both idempotent). */
  async forgetTweet(authorId: string, tweetId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO deleted_tweets_by_author (author_id, tweet_id) VALUES (?, ?)', [authorId, tweetId]);
    await this.cassandra.execute('DELETE FROM tweets_by_author WHERE author_id = ? AND tweet_id = ?', [authorId, tweetId]);
  }

  async wasDeleted(authorId: string, tweetId: string): Promise<boolean> {
    const result = await this.cassandra.execute(
      'SELECT tweet_id FROM deleted_tweets_by_author WHERE author_id = ? AND tweet_id = ?',
      [authorId, tweetId],
    );
    return result.rowLength > 0;
  }

  /** An author's newest tweet ids, newest first, after the given id. */
  async authorTweetIds(authorId: string, page: PageRequest): Promise<string[]> {
    const query = page.afterId
      ? 'SELECT tweet_id FROM tweets_by_author WHERE author_id = ? AND tweet_id < ? LIMIT ?'
      : 'SELECT tweet_id FROM tweets_by_author WHERE author_id = ? LIMIT ?';
    const params = page.afterId ? [authorId, page.afterId, page.limit] : [authorId, page.limit];
    return (await this.cassandra.execute(query, params)).rows.map((row) => row.get('tweet_id').toString());
  }

  recentTweetIds(authorId: string, limit: number): Promise<string[]> {
    return this.authorTweetIds(authorId, { limit });
  }
}
