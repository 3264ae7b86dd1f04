import type { EventBus } from '../../../platform/messaging/bus.js';
import { createEvent, type DomainEvents } from '../../../platform/messaging/events.js';
import type { TimelineItem } from './model.js';
import type { TimelineRepository } from './repository.js';

/** How many of a newly followed author's tweets join the follower's timeline. */
export const FOLLOW_BACKFILL_TWEETS = 200;
/** How far back an unfollow looks for the author's tweets to take out (a timeline's length). */
export const UNFOLLOW_REMOVAL_TWEETS = 800;

export interface FanoutOptions {
  /** Authors with more followers than this are merged into feeds at read time instead. */
  threshold: number;
  /** Followers per work item; audiences larger than this are split into work items on the fan-out queue. */
  chunkSize: number;
  /** Told about items that just entered these users' timelines (live subscriptions). */
  announce?: (item: TimelineItem, userIds: readonly string[]) => Promise<void>;
}

type FanoutWork = DomainEvents['feed.fanout-requested'];

/**
 * Hybrid fan-out. Every tweet goes into its author's own timeline and the author's recent-tweets list. Authors up to
 * `threshold` followers are fanned out on write: small audiences at once, bigger ones as work items of `chunkSize`
 * followers on their own queue, so one big audience never holds up other authors' tweets. Authors above the
 * threshold are not fanned out; FeedService merges their recent tweets into their followers' pages at read time.
 * Every step is idempotent and safe to repeat.
 */
export class Fanout {
  constructor(
    private readonly timelines: TimelineRepository,
    private readonly bus: EventBus,
    private readonly options: FanoutOptions,
  ) {}

  async tweetCreated(tweet: DomainEvents['tweet.created'], correlationId: string): Promise<void> {
    const item = { tweetId: tweet.tweetId, authorId: tweet.authorId };
    await this.timelines.recordTweet(tweet.authorId, tweet.tweetId);
    await this.timelines.addToTimelines([tweet.authorId], item);
    await this.announce(item, [tweet.authorId]);

    // Followers are read once: up to the threshold they are kept for the fan-out itself.
    const pages = this.timelines.followerIdPages(tweet.authorId, this.options.chunkSize);
    const audience: string[][] = [];
    let followerCount = 0;
    // Read by hand, not with for-await and break, which would close the reading that a read-time author continues.
    while (followerCount <= this.options.threshold) {
      const page = await pages.next();
      if (page.done) break;
      audience.push(page.value);
      followerCount += page.value.length;
    }
    if (followerCount > this.options.threshold) {
      await this.timelines.markReadTimeAuthor(tweet.authorId);
      // Nothing is written, but live subscribers still hear of it, as if it had been.
      await this.forFollowers(concat(audience, pages), correlationId, (followerIds) => ({
        authorId: tweet.authorId,
        followerIds,
        tweetId: tweet.tweetId,
        announceOnly: true,
      }));
      return;
    }
    if (await this.timelines.isReadTimeAuthor(tweet.authorId)) {
      // Back under the threshold: followers' timelines must now hold what was merged at read time until now.
      await this.timelines.unmarkReadTimeAuthor(tweet.authorId);
      await this.forFollowers(audience, correlationId, (followerIds) => ({ authorId: tweet.authorId, followerIds, backfill: true }));
    }
    await this.forFollowers(audience, correlationId, (followerIds) => ({
      authorId: tweet.authorId,
      followerIds,
      tweetId: tweet.tweetId,
    }));
  }

  async tweetDeleted(tweet: DomainEvents['tweet.deleted'], correlationId: string): Promise<void> {
    await this.timelines.forgetTweet(tweet.authorId, tweet.tweetId);
    await this.timelines.removeFromTimelines([tweet.authorId], tweet.tweetId);
    await this.forFollowers(this.timelines.followerIdPages(tweet.authorId, this.options.chunkSize), correlationId, (followerIds) => ({
      authorId: tweet.authorId,
      followerIds,
      tweetId: tweet.tweetId,
      remove: true,
    }));
  }

  /** One work item: re-checked against the current followers and the author's current tweets before it is applied. */
  async apply(work: FanoutWork): Promise<void> {
    const followerIds = work.remove ? work.followerIds : await this.timelines.followersAmong(work.authorId, work.followerIds);
    if (work.tweetId && work.remove) {
      await this.timelines.removeFromTimelines(followerIds, work.tweetId);
    } else if (work.tweetId) {
      // A tweet deleted since this item was queued is no longer in the author's list: skip it.
      const item = { tweetId: work.tweetId, authorId: work.authorId };
      if (await this.timelines.hasTweet(work.authorId, work.tweetId)) {
        if (!work.announceOnly) await this.timelines.addToTimelines(followerIds, item);
        await this.announce(item, followerIds);
      }
    }
    if (work.backfill) {
      const items: TimelineItem[] = (await this.timelines.recentTweetIds(work.authorId, FOLLOW_BACKFILL_TWEETS)).map((tweetId) => ({
        tweetId,
        authorId: work.authorId,
      }));
      for (const followerId of followerIds) await this.timelines.addItemsToTimeline(followerId, items);
    }
  }

  /**
   * A follow: record it at its version, then, if it is still the current state (a newer unfollow may already have
   * arrived), merge the author's recent tweets into the follower's timeline. This also makes a tweet whose event
   * overtook the follow's appear, so the order in which the two services' events arrive does not matter.
   */
  async followCreated(follow: DomainEvents['follow.created']): Promise<void> {
    await this.timelines.addFollower(follow.followeeId, follow.followerId, follow.version);
    if (!(await this.timelines.isFollower(follow.followeeId, follow.followerId))) return;
    const tweetIds = await this.timelines.recentTweetIds(follow.followeeId, FOLLOW_BACKFILL_TWEETS);
    await this.timelines.addItemsToTimeline(
      follow.followerId,
      tweetIds.map((tweetId) => ({ tweetId, authorId: follow.followeeId })),
    );
  }

  /** An unfollow: record it at its version and, if it is still current, take the author's tweets out of the timeline. */
  async followDeleted(unfollow: DomainEvents['follow.deleted']): Promise<void> {
    await this.timelines.removeFollower(unfollow.followeeId, unfollow.followerId, unfollow.version);
    if (await this.timelines.isFollower(unfollow.followeeId, unfollow.followerId)) return;
    const tweetIds = await this.timelines.recentTweetIds(unfollow.followeeId, UNFOLLOW_REMOVAL_TWEETS);
    await this.timelines.removeItemsFromTimeline(unfollow.followerId, tweetIds);
  }

  private async announce(item: TimelineItem, userIds: readonly string[]): Promise<void> {
    await this.options.announce?.(item, userIds);
  }

  /**
   * Applies work to an audience (pages of `chunkSize` followers) at once when it is one page, or queues it a page at a
   * time; one page of look-ahead tells which, without counting first.
   */
  private async forFollowers(
    pages: Iterable<string[]> | AsyncIterable<string[]>,
    correlationId: string,
    workFor: (followerIds: string[]) => FanoutWork,
  ): Promise<void> {
    const queue = (followerIds: string[]) => this.bus.publish(createEvent('feed.fanout-requested', workFor(followerIds), { correlationId }));
    let held: string[] | undefined;
    let queued = false;
    for await (const followerIds of pages) {
      if (followerIds.length === 0) continue;
      if (held) {
        await queue(held);
        queued = true;
      }
      held = followerIds;
    }
    if (!held) return;
    if (queued) await queue(held);
    else await this.apply(workFor(held));
  }
}

/** The pages already read, then the rest of the same reading. */
async function* concat(read: string[][], rest: AsyncIterable<string[]>): AsyncGenerator<string[]> {
  yield* read;
  yield* rest;
}
