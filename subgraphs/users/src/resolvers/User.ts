import type { UserResolvers } from '../__generated__/resolvers-types.js';

export const User: UserResolvers = {
  __resolveReference: ({ id }, { services }) => services.users.byIdOrNull(id),
};
