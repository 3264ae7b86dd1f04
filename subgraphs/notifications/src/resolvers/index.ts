import { DateTime } from '../../../../platform/graphql/scalars.js';
import type { Resolvers } from '../__generated__/resolvers-types.js';
import { Mutation } from './Mutation.js';
import { Query } from './Query.js';
import { Subscription } from './Subscription.js';

export const resolvers: Resolvers = { DateTime, Query, Mutation, Subscription };
