import type { EventBus } from '../../shared/bus.js';
import type { DomainEvent } from '../../shared/events.js';
import { fanOutDeletion, fanOutTweet } from './fanout.js';
import type { TimelineRepository } from './repository.js';

/**
 * The feed keeps its own copy of who follows whom and fans tweets out from it.
 * One queue, handled in order, so a follow is applied before a tweet posted after it.
 */
export async function consumeFeedEvents(bus: EventBus, timelines: TimelineRepository): Promise<void> {
  const addToTimelinesWhenTweetCreated = ({ data }: DomainEvent<'tweet.created'>) => fanOutTweet(timelines, data);
  const removeFromTimelinesWhenTweetDeleted = ({ data }: DomainEvent<'tweet.deleted'>) => fanOutDeletion(timelines, data);
  const addFollowerWhenFollowCreated = ({ data }: DomainEvent<'follow.created'>) =>
    timelines.addFollower(data.followeeId, data.followerId, data.version);
  const removeFollowerWhenFollowDeleted = ({ data }: DomainEvent<'follow.deleted'>) =>
    timelines.removeFollower(data.followeeId, data.followerId, data.version);

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
          return addFollowerWhenFollowCreated(event);
        case 'follow.deleted':
          return removeFollowerWhenFollowDeleted(event);
      }
    },
  });
}
