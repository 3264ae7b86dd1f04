import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  followerCount: (user, _args, { services }) => services.follows.followerCount(user.id),
  followingCount: (user, _args, { services }) => services.follows.followingCount(user.id),
};
