import type { MutationResolvers } from '../__generated__/resolvers-types.js';

export const Mutation: MutationResolvers = {
  signUp: (_root, args, { services }) => services.users.signUp(args),
  logIn: (_root, { username, password }, { services }) => services.users.logIn(username, password),
  updateProfile: (_root, { displayName }, { services }) => services.users.updateProfile({ displayName }),
};
