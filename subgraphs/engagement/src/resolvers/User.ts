import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  likes: (user, { first, after }, { services }) => services.engagement.likes(user.id, { first, after }),
};
