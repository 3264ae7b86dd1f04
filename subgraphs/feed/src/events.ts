import type { EventBus } from '../../../platform/messaging/bus.js';
import type { DomainEvent } from '../../../platform/messaging/events.js';
import type { Fanout, FeedWork } from './fanout.js';

/**
 * The feed keeps its own copy of who follows whom and of each author's recent tweets, and fans tweets out from it.
 * Events from different services may arrive in any order relative to each other; each handler converges anyway
 * (versions for follows, backfill on follow, removal on unfollow). One replica at a time consumes the main queue, so
 * live subscribers see each author's tweets in order; big fan-outs are split into work items on a queue of their own,
 * which all replicas share.
 */
export async function consumeFeedEvents(bus: EventBus, fanout: Fanout): Promise<void> {
  const addToTimelinesWhenTweetCreated = (event: DomainEvent<'tweet.created'>) => fanout.tweetCreated(event);
  const removeFromTimelinesWhenTweetDeleted = (event: DomainEvent<'tweet.deleted'>) => fanout.tweetDeleted(event);
  const backfillTimelineWhenFollowCreated = ({ data }: DomainEvent<'follow.created'>) => fanout.followCreated(data);
  const clearAuthorFromTimelineWhenFollowDeleted = ({ data }: DomainEvent<'follow.deleted'>) => fanout.followDeleted(data);

  await bus.subscribe({
    queue: 'feed',
    events: ['tweet.created', 'tweet.deleted', 'follow.created', 'follow.deleted'],
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
      }
    },
  });
  await bus.subscribe<FeedWork>({
    queue: 'feed.fanout',
    events: ['feed.fanout-requested'],
    // Work items of one fan-out are independent: a few at once keep the node busy while each waits on its reads.
    prefetch: 4,
    ordered: false,
    handle: async function applyFanoutWorkWhenRequested(event) {
      await fanout.apply(event.data);
    },
  });
}
