import type { EventBus } from '../../../platform/messaging/bus.js';
import { createEvent } from '../../../platform/messaging/events.js';
import type { EngagementKind } from './model.js';
import type { EngagementRepository } from './repository.js';

export interface EngagementFacts {
  tweetId: string;
  authorId: string;
  userId: string;
  engagedAt: string;
  version: number;
}

/** What the engagement subgraph tells the rest of twtr (recorded through its outbox). */
export const engagementEvents = {
  created: (kind: EngagementKind, facts: EngagementFacts, correlationId: string) =>
    createEvent(kind === 'like' ? 'like.created' : 'repost.created', facts, { correlationId }),
  deleted: (kind: EngagementKind, facts: EngagementFacts, correlationId: string) =>
    createEvent(kind === 'like' ? 'like.deleted' : 'repost.deleted', facts, { correlationId }),
};

/**
 * engagement keeps its own list of tweets (and of those deleted), so liking never needs to ask the tweets subgraph.
 * Both writes touch columns of their own: whichever of the two events arrives first, a deleted tweet stays deleted.
 */
export async function consumeEngagementEvents(bus: EventBus, engagements: EngagementRepository): Promise<void> {
  await bus.subscribe({
    queue: 'engagement',
    events: ['tweet.created', 'tweet.deleted'],
    handle: async (event) => {
      if (event.type === 'tweet.created') await engagements.rememberTweet(event.data.tweetId, event.data.authorId);
      else await engagements.forgetTweet(event.data.tweetId);
    },
  });
}
