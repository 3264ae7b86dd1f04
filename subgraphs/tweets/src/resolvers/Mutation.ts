import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  postTweet: (_root, { text }, { services }) => services.tweets.post(text),
  deleteTweet: (_root, { id }, { services }) => services.tweets.delete(id),
};
