import DataLoader from 'dataloader';
import { unauthenticated } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { pageRequest, toConnection } from '../../shared/paging.js';
import type { RequestScope } from '../../shared/subgraph-server.js';
import type { TweetEvents } from './events.js';
import type { TweetModel } from './model.js';
import type { TweetRepository } from './repository.js';
import { validateTweetText } from './rules.js';

export interface TweetsServiceDeps {
  tweets: TweetRepository;
  events: TweetEvents;
}

/** Tweets: posting and reading. One instance per request (it holds the request's dataloader). */
export class TweetsService {
  private readonly tweetLoader = new DataLoader<string, TweetModel | null>(async (ids) => {
    const found = new Map((await this.deps.tweets.findByIds(ids)).map((tweet) => [tweet.id, tweet]));
    return ids.map((id) => found.get(id) ?? null);
  });

  constructor(
    private readonly deps: TweetsServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  async post(text: string): Promise<TweetModel> {
    if (!this.scope.viewerId) throw unauthenticated();
    const createdAt = new Date();
    const tweet: TweetModel = {
      id: this.deps.tweets.newId(createdAt),
      authorId: this.scope.viewerId,
      text: validateTweetText(text),
      createdAt,
    };
    await this.deps.tweets.insert(tweet);
    await this.deps.events.created(tweet, this.scope.correlationId);
    return tweet;
  }

  /** Null for ids that name no tweet (including malformed ones). */
  async byId(id: string): Promise<TweetModel | null> {
    return isUuid(id) ? this.tweetLoader.load(id) : null;
  }

  async byAuthor(authorId: string, args: { first?: number | null; after?: string | null }) {
    const page = await this.deps.tweets.idsByAuthor(authorId, pageRequest(args));
    const tweets = await Promise.all(page.items.map((id) => this.tweetLoader.load(id)));
    const existing = tweets.filter((tweet): tweet is TweetModel => tweet !== null);
    return toConnection({ items: existing, hasNextPage: page.hasNextPage }, (tweet) => tweet.id, (tweet) => tweet);
  }
}
