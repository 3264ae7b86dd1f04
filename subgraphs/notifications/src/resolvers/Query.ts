import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  notifications: (_root, { first, after }, { services }) => services.notifications.list({ first, after }),
  unreadNotificationCount: (_root, _args, { services }) => services.notifications.unreadCount(),
};
