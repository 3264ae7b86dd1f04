import type { EventBus } from '../../../platform/messaging/bus.js';
import { createEvent } from '../../../platform/messaging/events.js';
import type { FollowRepository } from './repository.js';

/** What the follows subgraph tells the rest of twtr (recorded through its outbox). */
export const followEvents = {
  created: (followerId: string, followeeId: string, createdAt: Date, version: number, correlationId: string) =>
    createEvent('follow.created', { followerId, followeeId, createdAt: createdAt.toISOString(), version }, { correlationId }),
  deleted: (followerId: string, followeeId: string, version: number, correlationId: string) =>
    createEvent('follow.deleted', { followerId, followeeId, version }, { correlationId }),
};

/** follows keeps its own list of existing users, so following never needs to ask the users subgraph. */
export async function consumeFollowsEvents(bus: EventBus, follows: FollowRepository): Promise<void> {
  await bus.subscribe({
    queue: 'follows',
    events: ['user.created'],
    handle: async function rememberUserWhenUserCreated(event) {
      await follows.rememberUser(event.data.userId);
    },
  });
}
