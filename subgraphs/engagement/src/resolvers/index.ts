import type { Resolvers } from '../__generated__/resolvers-types.js';
import { Mutation } from './Mutation.js';
import { Tweet } from './Tweet.js';
import { User } from './User.js';

export const resolvers: Resolvers = { Mutation, Tweet, User };
