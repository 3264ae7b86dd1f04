import type { EventBus } from '../../shared/bus.js';
import { createEvent } from '../../shared/events.js';
import type { TweetModel } from './model.js';

/** What the tweets subgraph tells the rest of twtr. */
export class TweetEvents {
  constructor(private readonly bus: EventBus) {}

  created(tweet: TweetModel, correlationId: string): Promise<void> {
    return this.bus.publish(
      createEvent(
        'tweet.created',
        { tweetId: tweet.id, authorId: tweet.authorId, text: tweet.text, createdAt: tweet.createdAt.toISOString() },
        { correlationId },
      ),
    );
  }
}
