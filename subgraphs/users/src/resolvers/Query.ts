import type { QueryResolvers } from '../__generated__/resolvers-types.js';

export const Query: QueryResolvers = {
  me: (_root, _args, { services }) => services.users.me(),
  user: (_root, { username }, { services }) => services.users.byUsername(username),
};
