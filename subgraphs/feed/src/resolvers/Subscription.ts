import type { SubscriptionResolvers } from '../__generated__/resolvers-types.js';
import type { TweetReference } from '../model.js';

export const Subscription: SubscriptionResolvers = {
  feedItemAdded: {
    subscribe: (_root, _args, { services }) => services.feed.liveItems(),
    resolve: (item: TweetReference) => item,
  },
};
