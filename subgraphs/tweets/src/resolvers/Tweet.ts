import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  author: (tweet) => ({ id: tweet.authorId }),
  __resolveReference: ({ id }, { services }) => services.tweets.byReference(id),
};
