import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { NotificationModel } from '../model.js';

export const Subscription: SubscriptionResolvers = {
  notificationAdded: {
    subscribe: (_root, _args, { services }) => services.notifications.live(),
    resolve: (notification: NotificationModel) => notification,
  },
};
