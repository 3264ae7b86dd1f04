import type { EventBus } from '../../shared/bus.js';
import { createEvent } from '../../shared/events.js';
import type { FollowRepository } from './repository.js';

/** What the follows subgraph tells the rest of twtr. */
export class FollowEvents {
  constructor(private readonly bus: EventBus) {}

  created(followerId: string, followeeId: string, createdAt: Date, correlationId: string): Promise<void> {
    return this.bus.publish(
      createEvent('follow.created', { followerId, followeeId, createdAt: createdAt.toISOString() }, { correlationId }),
    );
  }

  deleted(followerId: string, followeeId: string, correlationId: string): Promise<void> {
    return this.bus.publish(createEvent('follow.deleted', { followerId, followeeId }, { correlationId }));
  }
}

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
