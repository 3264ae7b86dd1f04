import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  likeTweet: (_root, { tweetId }, { services }) => services.engagement.engage('like', tweetId),
  unlikeTweet: (_root, { tweetId }, { services }) => services.engagement.undo('like', tweetId),
  repost: (_root, { tweetId }, { services }) => services.engagement.engage('repost', tweetId),
  undoRepost: (_root, { tweetId }, { services }) => services.engagement.undo('repost', tweetId),
};
