import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  // The author the timeline row recorded: provided with the tweet, so the router asks users and tweets at once.
  author: (tweet) => ({ id: tweet.authorId }),
  // Likes and reposts, from the feed's copy of them: provided with the page, so it needs no fetch of its own. Read with
  // the page when its query asks for them; a live event's, here.
  likeCount: (tweet, _args, { services }) => tweet.counts?.like ?? services.feed.count('like', tweet.id),
  repostCount: (tweet, _args, { services }) => tweet.counts?.repost ?? services.feed.count('repost', tweet.id),
  viewerHasLiked: (tweet, _args, { services }) => tweet.viewerHas?.like ?? services.feed.viewerHas('like', tweet.id),
  viewerHasReposted: (tweet, _args, { services }) => tweet.viewerHas?.repost ?? services.feed.viewerHas('repost', tweet.id),
};
