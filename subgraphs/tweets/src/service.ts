import DataLoader from 'dataloader';

import { badUserInput, forbidden, notFound, unauthenticated } from '../../../platform/errors.js';
import { isTimeUuid } from '../../../platform/graphql/ids.js';
import { type Page, pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { MintedIds } from '../../../platform/identity/minted-ids.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import { MAX_MENTIONS, mentionedUsernames } from '../../../platform/identity/usernames.js';
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
  ids: MintedIds;
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
  private readonly replyCountLoader = new DataLoader<string, number>(async (parentIds) => {
    const counts = await this.deps.tweets.replyCounts(parentIds);
    return parentIds.map((id) => counts.get(id) ?? 0);
  });

  constructor(
    private readonly deps: TweetsServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  /** A reply names a live tweet (`inReplyToId`); it is otherwise an ordinary tweet of its author. */
  async post(text: string, inReplyToId?: string | null): Promise<TweetModel> {
    const authorId = this.requireViewer();
    validateTweetText(text);
    if (inReplyToId != null && !isTimeUuid(inReplyToId)) throw badUserInput('inReplyToId', 'inReplyToId is not a tweet id.');
    await this.deps.rateLimits.perViewer('postTweet', authorId);
    // Read where it was written (LOCAL_QUORUM both ways): a tweet is repliable the moment postTweet has answered.
    const parent = inReplyToId != null ? await this.byId(inReplyToId) : null;
    if (inReplyToId != null && !parent) throw notFound('There is no such tweet to reply to.');
    const mentionIds = await this.mentionedUsers(text);
    const createdAt = new Date();
    const id = this.deps.ids.mint('tweet', createdAt);
    const tweet: TweetModel = { id, authorId, text, createdAt, inReplyToId: inReplyToId ?? null, mentionIds, deletedAt: null };
    await this.deps.outbox.commit(this.deps.tweets.insert(tweet), [tweetEvents.created(tweet, parent, this.scope.correlationId)]);
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
    return this.liveConnection(await this.deps.tweets.idsByAuthor(authorId, pageRequest(args)));
  }

  /** A page of ids as a connection of the tweets still live (a deletion in flight may leave an id behind). */
  private async liveConnection(page: Page<string>) {
    const tweets = await Promise.all(page.items.map((id) => this.byId(id)));
    const live = tweets.filter((tweet): tweet is TweetModel => tweet !== null);
    return toConnection(
      { items: live, hasNextPage: page.hasNextPage },
      (tweet) => tweet.id,
      (tweet) => tweet,
    );
  }

  /** The tweet this one replies to; null when it starts a conversation or its parent was deleted (one level only). */
  inReplyTo(tweet: TweetModel): Promise<TweetModel | null> {
    return tweet.inReplyToId ? this.byId(tweet.inReplyToId) : Promise.resolve(null);
  }

  /** A tweet's live replies, oldest first. */
  async replies(parentId: string, args: { first?: number | null; after?: string | null }) {
    const page = await this.deps.tweets.replyIds(parentId, pageRequest(args));
    return this.liveConnection(page);
  }

  replyCount(parentId: string): Promise<number> {
    return this.replyCountLoader.load(parentId);
  }

  countByAuthor(authorId: string): Promise<number> {
    return this.countLoader.load(authorId);
  }

  /**
   * The users the text mentions, each once in order of first appearance: the first MAX_MENTIONS names that are users.
   * Names no one has stay plain text; at most twice as many names are looked up, in one query.
   */
  private async mentionedUsers(text: string): Promise<string[]> {
    const names = mentionedUsernames(text, 2 * MAX_MENTIONS);
    const users = await this.deps.tweets.usersNamed(names);
    return names.flatMap((name) => users.get(name) ?? []).slice(0, MAX_MENTIONS);
  }

  private requireViewer(): string {
    if (!this.scope.viewerId) throw unauthenticated();
    return this.scope.viewerId;
  }
}
