import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { FeedEdgeModel, TweetReference } from '../model.js';

export const Subscription: SubscriptionResolvers = {
  feedItemAdded: {
    subscribe: (_root, _args, { services }) => services.feed.liveItems(),
    resolve: (item: TweetReference) => item,
  },
  feedEdgeAdded: {
    subscribe: (_root, _args, { services }) => services.feed.liveEdges(),
    resolve: (edge: FeedEdgeModel) => edge,
  },
};
