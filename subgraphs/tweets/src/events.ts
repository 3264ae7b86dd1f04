import { createEvent } from '../../../platform/messaging/events.js';
import type { TweetModel } from './model.js';

/** What the tweets subgraph tells the rest of twtr (recorded through its outbox). */
export const tweetEvents = {
  created: (tweet: TweetModel, correlationId: string) =>
    createEvent(
      'tweet.created',
      {
        tweetId: tweet.id,
        authorId: tweet.authorId,
        text: tweet.text,
        createdAt: tweet.createdAt.toISOString(),
        ...(tweet.inReplyToId && { inReplyToId: tweet.inReplyToId }),
      },
      { correlationId },
    ),
  deleted: (tweet: TweetModel, correlationId: string) =>
    createEvent('tweet.deleted', { tweetId: tweet.id, authorId: tweet.authorId }, { correlationId }),
};
