import type { TweetResolvers } from '../__generated__/resolvers-types.js';

export const Tweet: TweetResolvers = {
  author: (tweet) => ({ id: tweet.authorId }),
  mentions: (tweet) => tweet.mentionIds.map((id) => ({ id })),
  inReplyTo: (tweet, _args, { services }) => services.tweets.inReplyTo(tweet),
  replies: (tweet, { first, after }, { services }) => services.tweets.replies(tweet.id, { first, after }),
  replyCount: (tweet, _args, { services }) => services.tweets.replyCount(tweet.id),
  __resolveReference: ({ id }, { services }) => services.tweets.byReference(id),
};
