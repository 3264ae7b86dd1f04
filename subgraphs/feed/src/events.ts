import type { Config } from '../../../platform/config.js';
import type { EventBus, SubscribeOptions } from '../../../platform/messaging/bus.js';
import type { DomainEvent, DomainEvents } from '../../../platform/messaging/events.js';
import type { Fanout, FeedWork } from './fanout.js';
import type { EngagementCopyRepository } from './repositories/index.js';

export type FeedQueue = Config['FEED_QUEUES'][number];

/**
 * The feed keeps its own copy of who follows whom and of each author's recent tweets, and fans tweets out from it.
 * Events from different services may arrive in any order relative to each other; each handler converges anyway
 * (versions for follows, backfill on follow, removal on unfollow). One replica at a time consumes the main queue, so
 * live subscribers see each author's tweets in order; big fan-outs are split into work items on a queue of their own,
 * which all replicas consuming it share (`queues`: FEED_QUEUES).
 */
export async function consumeFeedEvents(
  bus: EventBus,
  fanout: Fanout,
  engagements: EngagementCopyRepository,
  queues: readonly FeedQueue[],
): Promise<void> {
  const addToTimelinesWhenTweetCreated = (event: DomainEvent<'tweet.created'>) => fanout.tweetCreated(event);
  const removeFromTimelinesWhenTweetDeleted = (event: DomainEvent<'tweet.deleted'>) => fanout.tweetDeleted(event);
  const backfillTimelineWhenFollowCreated = ({ data }: DomainEvent<'follow.created'>) => fanout.followCreated(data);
  const clearAuthorFromTimelineWhenFollowDeleted = ({ data }: DomainEvent<'follow.deleted'>) => fanout.followDeleted(data);
  /** Likes and reposts, for feed pages (flags, counts): written at the event's version, so order does not matter. */
  const copyEngagement = async ({ type, data }: DomainEvent<EngagementEventType>) => {
    const kind = type.startsWith('like.') ? 'like' : 'repost';
    if (type.endsWith('.created')) await engagements.record(kind, data.userId, data.tweetId, data.version);
    else await engagements.forget(kind, data.userId, data.tweetId, data.version);
  };
  // The copy first: the reposter's timeline (and live subscription) shows the repost as theirs, and counted, when it arrives.
  const addToTimelinesWhenRepostCreated = async (event: DomainEvent<'repost.created'>) => {
    await copyEngagement(event);
    await fanout.repostCreated(event);
  };
  const removeFromTimelinesWhenRepostDeleted = async (event: DomainEvent<'repost.deleted'>) => {
    await copyEngagement(event);
    await fanout.repostDeleted(event);
  };

  const mainQueue: SubscribeOptions<DomainEvents, FeedEventType> = {
    queue: 'feed',
    events: ['tweet.created', 'tweet.deleted', 'follow.created', 'follow.deleted', 'repost.created', 'repost.deleted'],
    // Events are applied in the order they were published, whichever replica is consuming.
    singleActiveConsumer: true,
    handle: async (event) => {
      switch (event.type) {
        case 'tweet.created':
          return addToTimelinesWhenTweetCreated(event);
        case 'tweet.deleted':
          return removeFromTimelinesWhenTweetDeleted(event);
        case 'follow.created':
          return backfillTimelineWhenFollowCreated(event);
        case 'follow.deleted':
          return clearAuthorFromTimelineWhenFollowDeleted(event);
        case 'repost.created':
          return addToTimelinesWhenRepostCreated(event);
        case 'repost.deleted':
          return removeFromTimelinesWhenRepostDeleted(event);
      }
    },
  };
  const workQueue: SubscribeOptions<FeedWork> = {
    queue: 'feed.fanout',
    events: ['feed.fanout-requested'],
    // Work items of one fan-out are independent: a few at once keep the node busy while each waits on its reads.
    prefetch: 4,
    ordered: false,
    handle: async function applyFanoutWorkWhenRequested(event) {
      await fanout.apply(event.data);
    },
  };

  // Likes, on a queue of their own: a storm of likes never holds up timelines, and each change is written at its
  // version, so any replica may apply them, in any order. (Reposts travel the main queue, above.) Enough held at once
  // for a storm's deliveries to share rounds of writes (engagement-copy.ts).
  const likesQueue: SubscribeOptions<DomainEvents, 'like.created' | 'like.deleted'> = {
    queue: 'feed.engagements',
    events: ['like.created', 'like.deleted'],
    prefetch: 64,
    ordered: false,
    handle: copyEngagement,
  };

  // A queue this replica leaves to others is still declared, so nothing published for it is lost before they start.
  await (queues.includes('feed') ? bus.subscribe(mainQueue) : bus.declare(mainQueue));
  await (queues.includes('feed') ? bus.subscribe(likesQueue) : bus.declare(likesQueue));
  await (queues.includes('feed.fanout') ? bus.subscribe(workQueue) : bus.declare<FeedWork>(workQueue));
}

type EngagementEventType = 'like.created' | 'like.deleted' | 'repost.created' | 'repost.deleted';
type FeedEventType =
  'tweet.created' | 'tweet.deleted' | 'follow.created' | 'follow.deleted' | 'repost.created' | 'repost.deleted';
