import type { EventBus } from '../../shared/bus.js';
import { fanOutTweet } from './fanout.js';
import type { TimelineRepository } from './repository.js';

/**
 * The feed keeps its own copy of who follows whom and fans tweets out from it.
 * One queue, handled in order, so a follow is applied before a tweet posted after it.
 */
export async function consumeFeedEvents(bus: EventBus, timelines: TimelineRepository): Promise<void> {
  await bus.subscribe({
    queue: 'feed',
    events: ['tweet.created', 'follow.created', 'follow.deleted'],
    handle: async (event) => {
      switch (event.type) {
        case 'tweet.created':
          return addToTimelinesWhenTweetCreated(event.data);
        case 'follow.created':
          return timelines.addFollower(event.data.followeeId, event.data.followerId);
        case 'follow.deleted':
          return timelines.removeFollower(event.data.followeeId, event.data.followerId);
      }
    },
  });

  function addToTimelinesWhenTweetCreated(tweet: Parameters<typeof fanOutTweet>[1]) {
    return fanOutTweet(timelines, tweet);
  }
}
