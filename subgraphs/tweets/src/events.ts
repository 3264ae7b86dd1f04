import { usernameKey } from '../../../platform/identity/usernames.js';
import type { EventBus } from '../../../platform/messaging/bus.js';
import { createEvent } from '../../../platform/messaging/events.js';
import type { TweetModel } from './model.js';
import type { TweetRepository } from './repository.js';

/** What the tweets subgraph tells the rest of twtr (recorded through its outbox). */
export const tweetEvents = {
  /** `parent`: the tweet it replies to, for a reply (whose author is told). */
  created: (tweet: TweetModel, parent: TweetModel | null, correlationId: string) =>
    createEvent(
      'tweet.created',
      {
        tweetId: tweet.id,
        authorId: tweet.authorId,
        text: tweet.text,
        createdAt: tweet.createdAt.toISOString(),
        ...(parent && { inReplyToId: parent.id, inReplyToAuthorId: parent.authorId }),
        mentionIds: tweet.mentionIds,
      },
      { correlationId },
    ),
  deleted: (tweet: TweetModel, correlationId: string) =>
    createEvent('tweet.deleted', { tweetId: tweet.id, authorId: tweet.authorId }, { correlationId }),
};

/** tweets keeps its own list of who goes by which name, to resolve mentions when a tweet is posted. */
export async function consumeTweetsEvents(bus: EventBus, tweets: TweetRepository): Promise<void> {
  await bus.subscribe({
    queue: 'tweets',
    events: ['user.created'],
    handle: async function rememberUserWhenUserCreated(event) {
      await tweets.rememberUser(usernameKey(event.data.username), event.data.userId);
    },
  });
}
