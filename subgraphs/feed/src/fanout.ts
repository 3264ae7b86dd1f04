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

/** How many of a newly followed author's tweets join the follower's timeline. */
export const FOLLOW_BACKFILL_TWEETS = 200;
/** How far back an unfollow looks for the author's tweets to take out (a timeline's length). */
export const UNFOLLOW_REMOVAL_TWEETS = 800;

/**
 * A follow: record it at its version, then, if it is still the current state (a newer unfollow may already have
 * arrived), merge the author's recent tweets into the follower's timeline. This also makes a tweet whose event
 * overtook the follow's appear, so the order in which the two services' events arrive does not matter.
 */
export async function applyFollow(timelines: TimelineRepository, follow: DomainEvents['follow.created']): Promise<void> {
  await timelines.addFollower(follow.followeeId, follow.followerId, follow.version);
  if (!(await timelines.isFollower(follow.followeeId, follow.followerId))) return;
  const tweetIds = await timelines.recentTweetIds(follow.followeeId, FOLLOW_BACKFILL_TWEETS);
  await timelines.addItemsToTimeline(
    follow.followerId,
    tweetIds.map((tweetId) => ({ tweetId, authorId: follow.followeeId })),
  );
}

/** An unfollow: record it at its version and, if it is still current, take the author's tweets out of the timeline. */
export async function applyUnfollow(timelines: TimelineRepository, unfollow: DomainEvents['follow.deleted']): Promise<void> {
  await timelines.removeFollower(unfollow.followeeId, unfollow.followerId, unfollow.version);
  if (await timelines.isFollower(unfollow.followeeId, unfollow.followerId)) return;
  const tweetIds = await timelines.recentTweetIds(unfollow.followeeId, UNFOLLOW_REMOVAL_TWEETS);
  await timelines.removeItemsFromTimeline(unfollow.followerId, tweetIds);
}
