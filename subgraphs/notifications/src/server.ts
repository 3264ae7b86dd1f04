import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { consumeNotificationEvents } from './events.js';
import { Inbox } from './inbox.js';
import { LiveNotifications } from './live.js';
import { NotificationRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { Retention } from './retention.js';
import { NotificationService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'notifications',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, bus, rateLimits, config, logger }) {
    const retention = new Retention(config.NOTIFICATION_RETENTION_SECONDS);
    const notifications = new NotificationRepository(cassandra, retention);
    const live = new LiveNotifications(bus);
    await live.start();
    const inbox = new Inbox(notifications, retention, (recipientId, added) => live.announce(recipientId, added), logger);
    await consumeNotificationEvents(bus, inbox, notifications);
    const deps = { notifications, live, rateLimits, retention };
    return {
      resolvers,
      context: (scope) => ({ ...scope, services: { notifications: new NotificationService(deps, scope) } }),
      health: () => ({ liveSubscriptions: live.size }),
      stop: () => live.stop(),
    };
  },
};
