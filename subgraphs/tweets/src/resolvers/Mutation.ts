import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  postTweet: (_root, { text, inReplyToId }, { services }) => services.tweets.post(text, inReplyToId),
  deleteTweet: (_root, { id }, { services }) => services.tweets.delete(id),
};
