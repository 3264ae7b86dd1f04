import DataLoader from 'dataloader';

import { forbidden, notFound, unauthenticated } from '../../../platform/errors.js';
import { isTimeUuid } from '../../../platform/graphql/ids.js';
import { pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { RateLimits } from '../../../platform/limits/rate-limiter.js';
import type { Outbox } from '../../../platform/messaging/outbox.js';
import { tweetEvents } from './events.js';
import type { TweetModel } from './model.js';
import type { TweetRepository } from './repository.js';
import { validateTweetText } from './rules.js';

export interface TweetsServiceDeps {
  tweets: TweetRepository;
  outbox: Outbox;
  rateLimits: RateLimits;
}

/** Tweets: posting, deleting and reading. One instance per request (it holds the request's dataloaders). */
export class TweetsService {
  private readonly tweetLoader = new DataLoader<string, TweetModel | null>(async (ids) => {
    const found = new Map((await this.deps.tweets.findByIds(ids)).map((tweet) => [tweet.id, tweet]));
    return ids.map((id) => found.get(id) ?? null);
  });
  private readonly countLoader = new DataLoader<string, number>((authorIds) =>
    Promise.all(authorIds.map((authorId) => this.deps.tweets.countByAuthor(authorId))),
  );

  constructor(
    private readonly deps: TweetsServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  async post(text: string): Promise<TweetModel> {
    const authorId = this.requireViewer();
    validateTweetText(text);
    await this.deps.rateLimits.perViewer('postTweet', authorId);
    const createdAt = new Date();
    const tweet: TweetModel = { id: this.deps.tweets.newId(createdAt), authorId, text, createdAt, deletedAt: null };
    await this.deps.outbox.commit(this.deps.tweets.insert(tweet), [tweetEvents.created(tweet, this.scope.correlationId)]);
    return tweet;
  }

  /** Only the author deletes; deleting again is harmless (true), an id that never was a tweet is NOT_FOUND. */
  async delete(id: string): Promise<boolean> {
    const viewerId = this.requireViewer();
    const tweet = await this.byReference(id);
    if (!tweet) throw notFound('There is no such tweet.');
    if (tweet.authorId !== viewerId) throw forbidden('Only its author can delete a tweet.');
    if (tweet.deletedAt) return true;
    await this.deps.rateLimits.perViewer('deleteTweet', viewerId);
    await this.deps.outbox.commit(this.deps.tweets.markDeleted(tweet, new Date()), [
      tweetEvents.deleted(tweet, this.scope.correlationId),
    ]);
    this.tweetLoader.clear(id);
    return true;
  }

  /** Null for ids that name no tweet (malformed, unknown or deleted). */
  async byId(id: string): Promise<TweetModel | null> {
    const tweet = await this.byReference(id);
    return tweet && !tweet.deletedAt ? tweet : null;
  }

  /**
   * For other subgraphs' references (a feed item): a deleted tweet still resolves, so a feed page read in the
   * moments before the deletion reaches the timelines answers instead of failing; only an unknown id is null.
   */
  async byReference(id: string): Promise<TweetModel | null> {
    return isTimeUuid(id) ? this.tweetLoader.load(id) : null;
  }

  async byAuthor(authorId: string, args: { first?: number | null; after?: string | null }) {
    const page = await this.deps.tweets.idsByAuthor(authorId, pageRequest(args));
    const tweets = await Promise.all(page.items.map((id) => this.byId(id)));
    const live = tweets.filter((tweet): tweet is TweetModel => tweet !== null);
    return toConnection(
      { items: live, hasNextPage: page.hasNextPage },
      (tweet) => tweet.id,
      (tweet) => tweet,
    );
  }

  countByAuthor(authorId: string): Promise<number> {
    return this.countLoader.load(authorId);
  }

  private requireViewer(): string {
    if (!this.scope.viewerId) throw unauthenticated();
    return this.scope.viewerId;
  }
}
