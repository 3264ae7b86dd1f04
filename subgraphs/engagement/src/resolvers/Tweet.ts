import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  likeCount: (tweet, _args, { services }) => services.engagement.count('like', tweet.id),
  repostCount: (tweet, _args, { services }) => services.engagement.count('repost', tweet.id),
  viewerHasLiked: (tweet, _args, { services }) => services.engagement.viewerHas('like', tweet.id),
  viewerHasReposted: (tweet, _args, { services }) => services.engagement.viewerHas('repost', tweet.id),
  likedBy: (tweet, { first, after }, { services }) => services.engagement.likedBy(tweet.id, { first, after }),
};
