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

/** The same walk for a deleted tweet: out of the author's timeline and every follower's. Safe to repeat. */
export async function fanOutDeletion(timelines: TimelineRepository, tweet: DomainEvents['tweet.deleted']): Promise<void> {
  await timelines.forgetTweet(tweet.authorId, tweet.tweetId);
  await timelines.removeFromTimelines([tweet.authorId], tweet.tweetId);
  for await (const followerIds of timelines.followerIdPages(tweet.authorId)) {
    await timelines.removeFromTimelines(followerIds, tweet.tweetId);
  }
}
