import type { EventBus } from '../../shared/bus.js';
import type { DomainEvent } from '../../shared/events.js';
import { applyFollow, applyUnfollow, fanOutDeletion, fanOutTweet } from './fanout.js';
import type { TimelineRepository } from './repository.js';

/**
 * The feed keeps its own copy of who follows whom and of each author's recent tweets, and fans tweets out from it.
 * Events from different services may arrive in any order relative to each other; each handler converges anyway
 * (versions for follows, backfill on follow, removal on unfollow).
 */
export async function consumeFeedEvents(bus: EventBus, timelines: TimelineRepository): Promise<void> {
  const addToTimelinesWhenTweetCreated = ({ data }: DomainEvent<'tweet.created'>) => fanOutTweet(timelines, data);
  const removeFromTimelinesWhenTweetDeleted = ({ data }: DomainEvent<'tweet.deleted'>) => fanOutDeletion(timelines, data);
  const backfillTimelineWhenFollowCreated = ({ data }: DomainEvent<'follow.created'>) => applyFollow(timelines, data);
  const clearAuthorFromTimelineWhenFollowDeleted = ({ data }: DomainEvent<'follow.deleted'>) => applyUnfollow(timelines, data);

  await bus.subscribe({
    queue: 'feed',
    events: ['tweet.created', 'tweet.deleted', 'follow.created', 'follow.deleted'],
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
}
