import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  follow: (_root, { userId }, { services }) => services.follows.follow(userId),
  unfollow: (_root, { userId }, { services }) => services.follows.unfollow(userId),
};
