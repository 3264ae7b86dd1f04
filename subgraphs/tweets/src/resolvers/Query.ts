import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  tweet: (_root, { id }, { services }) => services.tweets.byId(id),
};
