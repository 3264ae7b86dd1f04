import type { Resolvers } from '../__generated__/resolvers-types.js';
import { FeedEdge } from './FeedEdge.js';
import { Query } from './Query.js';
import { Subscription } from './Subscription.js';
import { Tweet } from './Tweet.js';

export const resolvers: Resolvers = { FeedEdge, Query, Subscription, Tweet };
