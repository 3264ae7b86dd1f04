import { allSettledValues, type Urgency } from '../../../platform/concurrently.js';
import type { Logger } from '../../../platform/logging.js';
import type { EventBus } from '../../../platform/messaging/bus.js';
import { causedBy, createEvent, type DomainEvent, type DomainEvents } from '../../../platform/messaging/events.js';
import { fanoutDuration, secondsSince } from '../../../platform/observability/metrics.js';
import { inSpan } from '../../../platform/observability/tracing.js';
import type { TimelineItem } from './model.js';
import type { FeedRepositories } from './repositories/index.js';

/** Work items published before their confirms are awaited (a read-time author's audience has no bound). */
const PUBLISH_WINDOW = 16;

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
  /** Where a failed trim is reported (a trim is upkeep: it never fails the event that caused it). */
  logger?: Logger;
}

/**
 * Internal to the feed: one page of a big fan-out, split off so one large audience never holds up other authors.
 * `add` a tweet to these followers' timelines, `remove` it, `announce` it to their live subscriptions only (a
 * read-time author's tweet), or `backfill` the author's recent tweets (an author back under the threshold).
 */
export type FanoutWork =
  | {
      kind: 'add' | 'remove' | 'announce';
      authorId: string;
      followerIds: string[];
      tweetId: string;
      /** `announce` of the tweet that made the author read-time: record these followers of a read-time author. */
      indexFollowers?: boolean;
    }
  | { kind: 'backfill'; authorId: string; followerIds: string[] }
  /** A repost (`item`) into these followers' timelines, except where the tweet already is (see repostCreated). */
  | { kind: 'repost'; item: Required<TimelineItem>; followerIds: string[] };

/** The feed's own work items, on its own queue (never part of the shared contract). */
export interface FeedWork {
  'feed.fanout-requested': FanoutWork;
}

/**
 * Hybrid fan-out. Every tweet goes into its author's own timeline and the author's recent-tweets list. Authors up to
 * `threshold` followers are fanned out on write: small audiences at once, bigger ones as work items of `chunkSize`
 * followers on their own queue, so one big audience never holds up other authors' tweets. Authors above the
 * threshold are not fanned out; FeedService merges their recent tweets into their followers' pages at read time.
 * Every step is idempotent and safe to repeat.
 */
export class Fanout {
  constructor(
    private readonly repositories: FeedRepositories,
    private readonly bus: EventBus,
    private readonly options: FanoutOptions,
  ) {}

  tweetCreated(event: DomainEvent<'tweet.created'>): Promise<void> {
    return measured('tweet', () => this.fanOutTweet(event));
  }

  private async fanOutTweet(event: DomainEvent<'tweet.created'>): Promise<void> {
    const tweet = event.data;
    const item = { tweetId: tweet.tweetId, authorId: tweet.authorId };
    // Followers are read once: up to the threshold they are kept for the fan-out itself.
    const pages = this.repositories.graph.followerIdPages(tweet.authorId, this.options.chunkSize);
    const audience: string[][] = [];
    let followerCount = 0;
    // Read by hand, not with for-await and break, which would close the reading that a read-time author continues.
    const reading = (async () => {
      while (followerCount <= this.options.threshold) {
        const page = await pages.next();
        if (page.done) break;
        audience.push(page.value);
        followerCount += page.value.length;
      }
    })();
    // Reads change nothing: the three a tweet needs go side by side, and its frames wait for the slowest, not the sum.
    const [deleted, wasReadTime] = await allSettledValues([
      // A creation that arrives after its deletion (a retry, a redrive) must not bring the tweet back.
      this.repositories.authorTweets.wasDeleted(tweet.authorId, tweet.tweetId),
      this.repositories.readTimeAuthors.isReadTimeAuthor(tweet.authorId),
      reading,
    ]);
    if (deleted) {
      await pages.return(undefined);
      return;
    }
    // Recorded before any follower's work item is queued: a queued item is skipped if the author's list lacks its tweet.
    await this.repositories.authorTweets.recordTweet(tweet.authorId, tweet.tweetId);
    // The author's own copy (written, announced, trimmed) and the followers' do not depend on each other: side by side.
    await allSettledValues([
      this.addToTimelines([tweet.authorId], item),
      this.toFollowers(event, { audience, followerCount, pages }, wasReadTime),
    ]);
  }

  /** A new tweet to the author's followers: read up to the threshold (`audience`), the rest still in `pages`. */
  private async toFollowers(
    event: DomainEvent<'tweet.created'>,
    { audience, followerCount, pages }: { audience: string[][]; followerCount: number; pages: AsyncIterable<string[]> },
    wasReadTime: boolean,
  ): Promise<void> {
    const tweet = event.data;
    if (followerCount > this.options.threshold) {
      // Reads find the read-time authors a viewer follows in an index of them: the tweet that takes an author over the
      // threshold (or the first since the index existed) records every follower in passing. Follows from then on are
      // recorded as they come (followCreated): this queue is handled in order, so none falls between the two.
      const indexFollowers = !(await this.repositories.readTimeAuthors.followersIndexed(tweet.authorId));
      // Nothing is written, but live subscribers still hear of it, as if it had been.
      await this.forFollowers(concat(audience, pages), event, (followerIds) => ({
        kind: 'announce',
        authorId: tweet.authorId,
        followerIds,
        tweetId: tweet.tweetId,
        ...(indexFollowers && { indexFollowers }),
      }));
      // Once the index work is done or durably queued: a retry before this point indexes again (idempotent).
      await this.repositories.readTimeAuthors.markReadTimeAuthor(tweet.authorId);
      return;
    }
    if (wasReadTime) {
      // Back under the threshold: followers' timelines must now hold what was merged at read time until now.
      await this.repositories.readTimeAuthors.unmarkReadTimeAuthor(tweet.authorId);
      await this.forFollowers(audience, event, (followerIds) => ({ kind: 'backfill', authorId: tweet.authorId, followerIds }));
    }
    await this.forFollowers(audience, event, (followerIds) => ({
      kind: 'add',
      authorId: tweet.authorId,
      followerIds,
      tweetId: tweet.tweetId,
    }));
  }

  async tweetDeleted(event: DomainEvent<'tweet.deleted'>): Promise<void> {
    const tweet = event.data;
    await this.repositories.authorTweets.forgetTweet(tweet.authorId, tweet.tweetId);
    await this.repositories.timelines.removeFromTimelines([tweet.authorId], tweet.tweetId);
    // Every repost of it, from every timeline it reached (a repost arriving later finds the tweet deleted).
    await this.removeReposts(tweet.tweetId, () => true);
    await this.forFollowers(
      this.repositories.graph.followerIdPages(tweet.authorId, this.options.chunkSize),
      event,
      (followerIds) => ({
        kind: 'remove',
        authorId: tweet.authorId,
        followerIds,
        tweetId: tweet.tweetId,
      }),
    );
  }

  /**
   * A repost goes into the reposter's own timeline and their followers', as a row of its own (keyed by when it was
   * reposted) naming the original and the reposter. A user gets one copy of a tweet: not the repost when they are the
   * original's author or follow them (their timeline got the tweet itself), nor when an earlier repost of it reached
   * them. A repost of a deleted tweet, or one undone before it arrived, adds nothing.
   */
  async repostCreated(event: DomainEvent<'repost.created'>): Promise<void> {
    const repost = event.data;
    if (await this.repositories.authorTweets.wasDeleted(repost.authorId, repost.tweetId)) return;
    if (await this.repositories.reposts.wasUndone(repost.userId, repost.engagedAt)) return;
    const item = { tweetId: repost.engagedAt, authorId: repost.authorId, originalId: repost.tweetId, repostedBy: repost.userId };
    // The reposter with the first page of their followers: a small audience is written at once, as for a tweet.
    const audience = withFirst(repost.userId, this.repositories.graph.followerIdPages(repost.userId, this.options.chunkSize));
    await this.forFollowers(audience, event, (followerIds) => ({ kind: 'repost', item, followerIds }));
  }

  /** An undone repost leaves every timeline it reached; one that has not arrived yet will add nothing. */
  async repostDeleted(event: DomainEvent<'repost.deleted'>): Promise<void> {
    const repost = event.data;
    await this.repositories.reposts.markUndone(repost.userId, repost.engagedAt);
    await this.removeReposts(repost.tweetId, (engagedAt) => engagedAt === repost.engagedAt);
  }

  /** Takes the reposts of a tweet that `which` picks out of the timelines they reached. */
  private async removeReposts(tweetId: string, which: (engagedAt: string) => boolean): Promise<void> {
    for await (const page of this.repositories.reposts.deliveryPages(tweetId)) {
      const copies = page.filter((delivery) => which(delivery.engagedAt));
      for (const engagedAt of new Set(copies.map((copy) => copy.engagedAt))) {
        const userIds = copies.filter((copy) => copy.engagedAt === engagedAt).map((copy) => copy.userId);
        await this.repositories.timelines.removeFromTimelines(userIds, engagedAt);
        await this.repositories.reposts.forgetDeliveries(tweetId, userIds);
      }
    }
  }

  /**
   * A page of a repost's audience: those whose timeline does not have the tweet yet get it. Queued work is checked
   * for the original's deletion and the repost's undo before it writes, and again after: a deletion or undo handled
   * while it waited or ran took out only the deliveries recorded by then, so what this wrote is taken out here. One
   * handled after the second look finds these deliveries (recorded before the rows) and takes them out itself. (Two
   * reposts of one tweet reaching one user in items running at once can both write: a delivery row per tweet and
   * user records only the last, so the other copy outlives an undo or deletion. Known, not handled.)
   */
  private async applyRepost(work: Extract<FanoutWork, { kind: 'repost' }>, urgency: Urgency, current: boolean): Promise<void> {
    const { item } = work;
    if (!current && (await this.repostWithdrawn(item))) return;
    const [authorsFollowers, delivered] = await Promise.all([
      this.repositories.graph.followersAmong(item.authorId, work.followerIds),
      this.repositories.reposts.deliveredAmong(item.originalId, work.followerIds),
    ]);
    const hasTweet = new Set([item.authorId, ...authorsFollowers]);
    // A copy this same repost delivered stays a recipient, so a retry finishes what a failed attempt began.
    const recipients = work.followerIds.filter(
      (userId) => !hasTweet.has(userId) && (delivered.get(userId) ?? item.tweetId) === item.tweetId,
    );
    await this.repositories.reposts.recordDeliveries(item.originalId, recipients, item.tweetId);
    await this.addToTimelines(recipients, item, urgency);
    if (!current && (await this.repostWithdrawn(item))) {
      await this.repositories.timelines.removeFromTimelines(recipients, item.tweetId, urgency);
      await this.repositories.reposts.forgetDeliveries(item.originalId, recipients);
    }
  }

  /** Whether the repost's original was deleted or the repost undone. */
  private async repostWithdrawn(item: Required<TimelineItem>): Promise<boolean> {
    const [deleted, undone] = await Promise.all([
      this.repositories.authorTweets.wasDeleted(item.authorId, item.originalId),
      this.repositories.reposts.wasUndone(item.repostedBy, item.tweetId),
    ]);
    return deleted || undone;
  }

  /** One work item: re-checked against the current followers and the author's current tweets before it is applied. */
  apply(work: FanoutWork): Promise<void> {
    return measured(work.kind, () => this.applyWork(work, { current: false }));
  }

  /**
   * `current`: the followers were read and the tweet recorded by this same handler just now (work applied at once,
   * not queued), so checking them again would only cost two more reads.
   */
  private async applyWork(work: FanoutWork, { current }: { current: boolean }): Promise<void> {
    // Work applied at once holds up the main queue, every author's next event behind it: it goes first.
    const urgency = current ? 'urgent' : 'background';
    if (work.kind === 'repost') return this.applyRepost(work, urgency, current);
    if (work.kind === 'remove') {
      await this.repositories.timelines.removeFromTimelines(work.followerIds, work.tweetId, urgency);
      return;
    }
    const followerIds = current
      ? work.followerIds
      : await this.repositories.graph.followersAmong(work.authorId, work.followerIds);
    if (work.kind === 'backfill') {
      const items: TimelineItem[] = (
        await this.repositories.authorTweets.recentTweetIds(work.authorId, FOLLOW_BACKFILL_TWEETS)
      ).map((tweetId) => ({
        tweetId,
        authorId: work.authorId,
      }));
      for (const followerId of followerIds) await this.repositories.timelines.addItemsToTimeline(followerId, items, urgency);
      return;
    }
    if (work.kind === 'announce' && work.indexFollowers) {
      await this.repositories.graph.indexReadTimeFollowers(work.authorId, followerIds);
    }
    // A tweet deleted since this item was queued is no longer in the author's list: skip it.
    const item = { tweetId: work.tweetId, authorId: work.authorId };
    if (!current && !(await this.repositories.authorTweets.hasTweet(work.authorId, work.tweetId))) return;
    if (work.kind === 'announce') return this.announce(item, followerIds);
    await this.addToTimelines(followerIds, item, urgency);
    // A deletion handled between the check and the write removed the rows its items found, not these: checked again
    // after writing (the deletion forgets the tweet before it queues removals), they are taken back here.
    if (!current && !(await this.repositories.authorTweets.hasTweet(work.authorId, work.tweetId))) {
      await this.repositories.timelines.removeFromTimelines(followerIds, work.tweetId, urgency);
    }
  }

  /**
   * Writes the item, announces it to live subscribers, then trims: a frame never waits for upkeep. A failed trim is
   * logged, not thrown: retrying the event for it would announce the item again, to subscribers who joined since, and
   * the timeline is trimmed again by a later insert anyway.
   */
  private async addToTimelines(userIds: readonly string[], item: TimelineItem, urgency: Urgency = 'urgent'): Promise<void> {
    await this.repositories.timelines.addToTimelines(userIds, item, urgency);
    await this.announce(item, userIds);
    await this.repositories.timelines
      .trimAfterAdding(userIds, item)
      .catch((error: unknown) => this.options.logger?.warn('timeline trim failed; a later insert trims again', { error }));
  }

  /**
   * A follow: record it at its version, then, if it is still the current state (a newer unfollow may already have
   * arrived), merge the author's recent tweets into the follower's timeline. This also makes a tweet whose event
   * overtook the follow's appear, so the order in which the two services' events arrive does not matter.
   */
  async followCreated(follow: DomainEvents['follow.created']): Promise<void> {
    await this.repositories.graph.addFollower(follow.followeeId, follow.followerId, follow.version);
    if (!(await this.repositories.graph.isFollower(follow.followeeId, follow.followerId))) return;
    if (await this.repositories.readTimeAuthors.isReadTimeAuthor(follow.followeeId)) {
      await this.repositories.graph.indexReadTimeFollowers(follow.followeeId, [follow.followerId]);
    }
    const tweetIds = await this.repositories.authorTweets.recentTweetIds(follow.followeeId, FOLLOW_BACKFILL_TWEETS);
    await this.repositories.timelines.addItemsToTimeline(
      follow.followerId,
      tweetIds.map((tweetId) => ({ tweetId, authorId: follow.followeeId })),
    );
  }

  /** An unfollow: record it at its version and, if it is still current, take the author's tweets out of the timeline. */
  async followDeleted(unfollow: DomainEvents['follow.deleted']): Promise<void> {
    await this.repositories.graph.removeFollower(unfollow.followeeId, unfollow.followerId, unfollow.version);
    if (await this.repositories.graph.isFollower(unfollow.followeeId, unfollow.followerId)) return;
    const tweetIds = await this.repositories.authorTweets.recentTweetIds(unfollow.followeeId, UNFOLLOW_REMOVAL_TWEETS);
    await this.repositories.timelines.removeItemsFromTimeline(unfollow.followerId, tweetIds);
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
    cause: DomainEvent,
    workFor: (followerIds: string[]) => FanoutWork,
  ): Promise<void> {
    // Work items are published a window at a time, their confirms awaited together: a busy broker's confirm latency
    // is paid once per window, not once per page, by the handler every other event on the main queue waits for.
    let publishing: Promise<void>[] = [];
    const queue = async (followerIds: string[]) => {
      publishing.push(this.bus.publish(createEvent<FeedWork>('feed.fanout-requested', workFor(followerIds), causedBy(cause))));
      if (publishing.length < PUBLISH_WINDOW) return;
      await Promise.all(publishing);
      publishing = [];
    };
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
    if (queued) {
      await queue(held);
      await Promise.all(publishing);
    } else {
      const work = workFor(held);
      await measured(work.kind, () => this.applyWork(work, { current: true }));
    }
  }
}

/** Times and traces one fan-out step (`kind` is "tweet" or a work item's kind). */
async function measured(kind: string, work: () => Promise<void>): Promise<void> {
  const startedAt = process.hrtime.bigint();
  await inSpan(`fanout ${kind}`, { attributes: { 'twtr.fanout.kind': kind } }, work);
  fanoutDuration.observe({ kind }, secondsSince(startedAt));
}

/** Pages of users with one more at the front of the first. */
async function* withFirst(userId: string, pages: AsyncIterable<string[]>): AsyncGenerator<string[]> {
  let first = true;
  for await (const page of pages) {
    yield first ? [userId, ...page] : page;
    first = false;
  }
  if (first) yield [userId];
}

/** The pages already read, then the rest of the same reading. */
async function* concat(read: string[][], rest: AsyncIterable<string[]>): AsyncGenerator<string[]> {
  yield* read;
  yield* rest;
}
