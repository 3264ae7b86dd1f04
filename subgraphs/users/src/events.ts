import { createEvent } from '../../../platform/messaging/events.js';
import type { UserModel } from './model.js';

/** What the users subgraph tells the rest of twtr (recorded through its outbox). */
export const userEvents = {
  created: (user: UserModel, correlationId: string) =>
    createEvent(
      'user.created',
      { userId: user.id, username: user.username, displayName: user.displayName, createdAt: user.createdAt.toISOString() },
      { correlationId },
    ),
};
