import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  tweets: (user, { first, after }, { services }) => services.tweets.byAuthor(user.id, { first, after }),
  tweetCount: (user, _args, { services }) => services.tweets.countByAuthor(user.id),
};
