import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  markNotificationsRead: (_root, { upTo }, { services }) => services.notifications.markRead(upTo),
};
