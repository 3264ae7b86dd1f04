import type { DomainEvents } from '../../shared/events.js';
import type { TimelineRepository } from './repository.js';

/**
 * Fan-out on write: a new tweet goes into its author's timeline and every follower's, a page of followers at a time.
 * Safe to repeat for the same tweet (same rows, same values).
 */
export async function fanOutTweet(timelines: TimelineRepository, tweet: DomainEvents['tweet.created']): Promise<void> {
  const item = { tweetId: tweet.tweetId, authorId: tweet.authorId };
  await timelines.recordTweet(tweet.authorId, tweet.tweetId);
  await timelines.addToTimelines([tweet.authorId], item);
  for await (const followerIds of timelines.followerIdPages(tweet.authorId)) {
    await timelines.addToTimelines(followerIds, item);
  }
}
