import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  feed: (_root, { first, after }, { services }) => services.feed.homeTimeline({ first, after }),
};
