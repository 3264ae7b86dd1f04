import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  followerCount: (user, _args, { services }) => services.follows.followerCount(user.id),
  followingCount: (user, _args, { services }) => services.follows.followingCount(user.id),
  followers: (user, { first, after }, { services }) => services.follows.followers(user.id, { first, after }),
  following: (user, { first, after }, { services }) => services.follows.following(user.id, { first, after }),
  viewerIsFollowing: (user, _args, { services }) => services.follows.viewerIsFollowing(user.id),
};
