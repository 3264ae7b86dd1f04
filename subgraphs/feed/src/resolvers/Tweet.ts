import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  // The author the timeline row recorded: provided with the tweet, so the router asks users and tweets at once.
  author: (tweet) => ({ id: tweet.authorId }),
  // The viewer's own engagements, from the feed's copy: provided with the page, so no fetch per viewer goes elsewhere.
  viewerHasLiked: (tweet, _args, { services }) => services.feed.viewerHas('like', tweet.id),
  viewerHasReposted: (tweet, _args, { services }) => services.feed.viewerHas('repost', tweet.id),
};
