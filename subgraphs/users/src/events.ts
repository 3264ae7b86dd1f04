import type { EventBus } from '../../shared/bus.js';
import { createEvent } from '../../shared/events.js';
import type { UserModel } from './model.js';

/** What the users subgraph tells the rest of twtr. */
export class UserEvents {
  constructor(private readonly bus: EventBus) {}

  created(user: UserModel, correlationId: string): Promise<void> {
    return this.bus.publish(
      createEvent(
        'user.created',
        { userId: user.id, username: user.username, displayName: user.displayName, createdAt: user.createdAt.toISOString() },
        { correlationId },
      ),
    );
  }
}
