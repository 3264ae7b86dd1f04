import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  // The author the timeline row recorded: provided with the tweet, so the router asks users and tweets at once.
  author: (tweet) => ({ id: tweet.authorId }),
};
