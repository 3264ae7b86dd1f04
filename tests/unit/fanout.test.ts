import { beforeEach, describe, expect, it } from 'vitest';

import { cql } from '../../platform/cassandra/client.js';
import type { EventBus } from '../../platform/messaging/bus.js';
import { createEvent, type EventEnvelope } from '../../platform/messaging/events.js';
import { Fanout, type FanoutWork } from '../../subgraphs/feed/src/fanout.js';
import type { TimelineItem } from '../../subgraphs/feed/src/model.js';
import type { FeedRepositories } from '../../subgraphs/feed/src/repositories/index.js';
import { FeedService } from '../../subgraphs/feed/src/service.js';

/** Timeuuids one millisecond apart, oldest first: the order Cassandra keeps timelines in. */
const base = Date.now();
const ids = new Map<number, string>();
const tweetId = (n: number) => {
  if (!ids.has(n)) ids.set(n, cql.TimeUuid.fromDate(new Date(base + n), 0).toString());
  return ids.get(n)!;
};
const instant = (id: string) => {
  const { date, ticks } = cql.TimeUuid.fromString(id).getDatePrecision();
  return date.getTime() * 10_000 + ticks;
};
const newestFirst = (ids: string[]) => [...ids].sort((a, b) => instant(b) - instant(a));

/** The feed's four table families in memory: the business rules under test only see their methods. */
class InMemoryFeed {
  followers = new Map<string, Set<string>>();
  tweets = new Map<string, string[]>();
  deleted = new Set<string>();
  readTime = new Set<string>();
  /** read_time_authors.followers_indexed, and read_time_followees_by_user (follower -> authors). */
  indexed = new Set<string>();
  readTimeFollowees = new Map<string, Set<string>>();
  homes = new Map<string, Map<string, TimelineItem>>();
  /** repost_deliveries (tweet -> user -> the repost that delivered it) and undone_reposts. */
  deliveries = new Map<string, Map<string, string>>();
  undone = new Set<string>();

  follow(authorId: string, ...followerIds: string[]) {
    const set = this.followers.get(authorId) ?? new Set();
    for (const id of followerIds) set.add(id);
    this.followers.set(authorId, set);
  }

  indexReadTimeFollowers(authorId: string, ...followerIds: string[]) {
    for (const id of followerIds) this.readTimeFollowees.set(id, new Set([...(this.readTimeFollowees.get(id) ?? []), authorId]));
  }

  home(userId: string): string[] {
    return newestFirst([...(this.homes.get(userId)?.keys() ?? [])]);
  }

  repositories(): FeedRepositories {
    return repositoriesOf(this);
  }
}

function repositoriesOf(feed: InMemoryFeed): FeedRepositories {
  const add = (userId: string, item: TimelineItem) => {
    const home = feed.homes.get(userId) ?? new Map();
    home.set(item.tweetId, item);
    feed.homes.set(userId, home);
  };
  const byAuthor = (authorId: string) => newestFirst(feed.tweets.get(authorId) ?? []);
  const page = (ids: string[], afterId: string | undefined, limit: number) =>
    ids.filter((id) => !afterId || instant(id) < instant(afterId)).slice(0, limit);
  return {
    graph: {
      followersAmong: async (authorId: string, ids: readonly string[]) =>
        ids.filter((id) => feed.followers.get(authorId)?.has(id)),
      followeesAmong: async (followerId: string, ids: readonly string[]) =>
        ids.filter((id) => feed.followers.get(id)?.has(followerId)),
      indexReadTimeFollowers: async (authorId: string, followerIds: readonly string[]) =>
        feed.indexReadTimeFollowers(authorId, ...followerIds),
      readTimeFolloweeCandidatePages: async function* (followerId: string) {
        yield [...(feed.readTimeFollowees.get(followerId) ?? [])];
      },
      followeeIds: async (followerId: string) =>
        [...feed.followers].filter(([, set]) => set.has(followerId)).map(([authorId]) => authorId),
      followerIdPages: async function* (authorId: string, pageSize: number) {
        const all = [...(feed.followers.get(authorId) ?? [])];
        if (all.length === 0) yield [];
        for (let i = 0; i < all.length; i += pageSize) yield all.slice(i, i + pageSize);
      },
    },
    authorTweets: {
      recordTweet: async (authorId: string, id: string) =>
        void feed.tweets.set(authorId, [...(feed.tweets.get(authorId) ?? []), id]),
      hasTweet: async (authorId: string, id: string) => feed.tweets.get(authorId)?.includes(id) ?? false,
      wasDeleted: async (_authorId: string, id: string) => feed.deleted.has(id),
      forgetTweet: async (authorId: string, id: string) => {
        feed.deleted.add(id);
        feed.tweets.set(
          authorId,
          (feed.tweets.get(authorId) ?? []).filter((t) => t !== id),
        );
      },
      authorTweetIds: async (authorId: string, request: { limit: number; afterId?: string }) =>
        page(byAuthor(authorId), request.afterId, request.limit),
      recentTweetIds: async (authorId: string, limit: number) => byAuthor(authorId).slice(0, limit),
    },
    readTimeAuthors: {
      isReadTimeAuthor: async (authorId: string) => feed.readTime.has(authorId),
      readTimeAuthorsAmong: async (ids: readonly string[]) => ids.filter((id) => feed.readTime.has(id)),
      followersIndexed: async (authorId: string) => feed.indexed.has(authorId),
      markReadTimeAuthor: async (authorId: string) => void [feed.readTime, feed.indexed].forEach((set) => set.add(authorId)),
      unmarkReadTimeAuthor: async (authorId: string) => void [feed.readTime, feed.indexed].forEach((set) => set.delete(authorId)),
    },
    timelines: {
      addToTimelines: async (userIds: readonly string[], item: TimelineItem) => userIds.forEach((userId) => add(userId, item)),
      trimAfterAdding: async () => undefined,
      addItemsToTimeline: async (userId: string, items: readonly TimelineItem[]) => items.forEach((item) => add(userId, item)),
      removeFromTimelines: async (userIds: readonly string[], id: string) =>
        userIds.forEach((userId) => feed.homes.get(userId)?.delete(id)),
      timeline: async (userId: string, request: { limit: number; afterId?: string }) => {
        const ids = page(feed.home(userId), request.afterId, request.limit + 1);
        return {
          items: ids.slice(0, request.limit).map((id) => feed.homes.get(userId)!.get(id)!),
          hasNextPage: ids.length > request.limit,
        };
      },
    },
    reposts: {
      markUndone: async (_reposterId: string, engagedAt: string) => void feed.undone.add(engagedAt),
      wasUndone: async (_reposterId: string, engagedAt: string) => feed.undone.has(engagedAt),
      deliveredAmong: async (id: string, userIds: readonly string[]) =>
        new Map([...(feed.deliveries.get(id) ?? [])].filter(([userId]) => userIds.includes(userId))),
      recordDeliveries: async (id: string, userIds: readonly string[], engagedAt: string) => {
        const delivered = feed.deliveries.get(id) ?? new Map();
        for (const userId of userIds) delivered.set(userId, engagedAt);
        feed.deliveries.set(id, delivered);
      },
      forgetDeliveries: async (id: string, userIds: readonly string[]) =>
        userIds.forEach((userId) => feed.deliveries.get(id)?.delete(userId)),
      deliveryPages: async function* (id: string) {
        yield [...(feed.deliveries.get(id) ?? [])].map(([userId, engagedAt]) => ({ userId, engagedAt }));
      },
    },
  } as unknown as FeedRepositories;
}

/**
 * Makes `object[method]` run `meanwhile` once, the first time it is called, after it has read and before its caller
 * goes on: another event handled between a work item's check and its writes. Returns whether it has run.
 */
function interleaveAfter<O extends object, K extends keyof O>(object: O, method: K, meanwhile: () => Promise<void>) {
  const original = object[method] as (...args: unknown[]) => Promise<unknown>;
  let pending: (() => Promise<void>) | undefined = meanwhile;
  object[method] = (async (...args: unknown[]) => {
    const answer = await original.apply(object, args);
    const handle = pending;
    pending = undefined;
    await handle?.();
    return answer;
  }) as O[K];
  return () => pending === undefined;
}

describe('Fanout decides how a tweet reaches its audience', () => {
  const threshold = 5;
  const chunkSize = 2;
  let feed: InMemoryFeed;
  let queued: EventEnvelope<string, FanoutWork>[];
  let announced: { tweetId: string; userIds: string[] }[];
  let fanout: Fanout;

  beforeEach(() => {
    feed = new InMemoryFeed();
    queued = [];
    announced = [];
    const bus = { publish: async (event: EventEnvelope<string, FanoutWork>) => void queued.push(event) } as unknown as EventBus;
    fanout = new Fanout(feed.repositories(), bus, {
      threshold,
      chunkSize,
      announce: async (item, userIds) => void announced.push({ tweetId: item.tweetId, userIds: [...userIds] }),
    });
  });

  const post = (authorId: string, n: number) =>
    createEvent(
      'tweet.created',
      { tweetId: tweetId(n), authorId, text: 't', createdAt: new Date().toISOString() },
      { correlationId: `request-${n}` },
    );
  const followers = (count: number) => Array.from({ length: count }, (_, i) => `follower-${i}`);

  it('writes a small audience at once, without queueing', async () => {
    feed.follow('author', ...followers(2));
    await fanout.tweetCreated(post('author', 1));
    expect(queued).toEqual([]);
    for (const userId of ['author', ...followers(2)]) expect(feed.home(userId)).toEqual([tweetId(1)]);
    expect(announced).toEqual([
      { tweetId: tweetId(1), userIds: ['author'] },
      { tweetId: tweetId(1), userIds: followers(2) },
    ]);
  });

  it('queues a bigger audience a page at a time, each work item caused by the tweet and in its request', async () => {
    feed.follow('author', ...followers(5));
    const event = post('author', 1);
    await fanout.tweetCreated(event);
    expect(queued.map((item) => [item.data.kind, item.data.followerIds.length])).toEqual([
      ['add', 2],
      ['add', 2],
      ['add', 1],
    ]);
    expect(new Set(queued.map((item) => [item.causationId, item.correlationId].join()))).toEqual(
      new Set([`${event.id},request-1`]),
    );
    // Only the author's own timeline is written before the work items run.
    expect(followers(5).map((userId) => feed.home(userId))).toEqual(followers(5).map(() => []));
    for (const item of queued) await fanout.apply(item.data);
    expect(followers(5).map((userId) => feed.home(userId))).toEqual(followers(5).map(() => [tweetId(1)]));
  });

  it('writes nothing for an author above the threshold, marks them read-time, and still tells live subscribers', async () => {
    feed.follow('celebrity', ...followers(threshold + 1));
    await fanout.tweetCreated(post('celebrity', 1));
    expect(feed.readTime.has('celebrity')).toBe(true);
    expect(queued.every((item) => item.data.kind === 'announce')).toBe(true);
    for (const item of queued) await fanout.apply(item.data);
    expect(followers(threshold + 1).every((userId) => feed.home(userId).length === 0)).toBe(true);
    expect(new Set(announced.flatMap((announcement) => announcement.userIds))).toEqual(
      new Set(['celebrity', ...followers(threshold + 1)]),
    );
    // Every follower is recorded as following a read-time author, once: the next tweet does not do it again.
    expect(followers(threshold + 1).every((userId) => feed.readTimeFollowees.get(userId)?.has('celebrity'))).toBe(true);
    queued.length = 0;
    await fanout.tweetCreated(post('celebrity', 2));
    expect(queued.some((item) => item.data.kind === 'announce' && item.data.indexFollowers)).toBe(false);
  });

  it('backfills followers when an author falls back under the threshold, then fans out again', async () => {
    feed.follow('author', ...followers(threshold + 1));
    await fanout.tweetCreated(post('author', 1));
    feed.followers.get('author')!.delete(followers(threshold + 1).at(-1)!);
    queued.length = 0;
    await fanout.tweetCreated(post('author', 2));
    expect(feed.readTime.has('author')).toBe(false);
    const kinds = queued.map((item) => item.data.kind);
    expect(kinds.slice(0, 3)).toEqual(['backfill', 'backfill', 'backfill']);
    expect(kinds.slice(3)).toEqual(['add', 'add', 'add']);
    for (const item of queued) await fanout.apply(item.data);
    expect(feed.home('follower-0')).toEqual([tweetId(2), tweetId(1)]);
  });

  it('adds nothing for a creation that arrives after its deletion', async () => {
    feed.follow('author', ...followers(2));
    const created = post('author', 1);
    await fanout.tweetDeleted(
      createEvent('tweet.deleted', { tweetId: tweetId(1), authorId: 'author' }, { correlationId: 'delete' }),
    );
    await fanout.tweetCreated(created);
    for (const userId of ['author', ...followers(2)]) expect(feed.home(userId)).toEqual([]);
    expect([queued, announced, feed.tweets.get('author') ?? []]).toEqual([[], [], []]);
  });

  it('applies work only to those who still follow, and not for a tweet deleted meanwhile', async () => {
    feed.follow('author', 'stays');
    await feed.repositories().authorTweets.recordTweet('author', tweetId(1));
    await fanout.apply({ kind: 'add', authorId: 'author', followerIds: ['stays', 'left'], tweetId: tweetId(1) });
    await fanout.apply({ kind: 'add', authorId: 'author', followerIds: ['stays'], tweetId: tweetId(2) });
    expect([feed.home('stays'), feed.home('left')]).toEqual([[tweetId(1)], []]);
    await fanout.apply({ kind: 'remove', authorId: 'author', followerIds: ['stays'], tweetId: tweetId(1) });
    expect(feed.home('stays')).toEqual([]);
  });

  it('takes back what an add work item writes when the tweet is deleted between its check and its write', async () => {
    feed.follow('author', ...followers(5));
    const created = post('author', 1);
    await fanout.tweetCreated(created);
    const adds = queued.splice(0).map((item) => item.data);
    // The deletion is handled (its remove items applied at once) after the first item checked the tweet, before it writes.
    const repositories = feed.repositories();
    const interleaved = interleaveAfter(repositories.authorTweets, 'hasTweet', async () => {
      await fanout.tweetDeleted(
        createEvent('tweet.deleted', { tweetId: tweetId(1), authorId: 'author' }, { correlationId: 'd' }),
      );
      for (const item of queued.splice(0)) await fanout.apply(item.data);
    });
    fanout = new Fanout(
      repositories,
      { publish: async (event: EventEnvelope<string, FanoutWork>) => void queued.push(event) } as unknown as EventBus,
      {
        threshold,
        chunkSize,
      },
    );
    for (const work of adds) await fanout.apply(work);
    expect(interleaved()).toBe(true);
    expect(['author', ...followers(5)].filter((userId) => feed.home(userId).length > 0)).toEqual([]);
  });
});

describe('Fanout puts reposts into timelines once per tweet', () => {
  let feed: InMemoryFeed;
  let queued: EventEnvelope<string, FanoutWork>[];
  let fanout: Fanout;

  beforeEach(() => {
    feed = new InMemoryFeed();
    queued = [];
    const bus = { publish: async (event: EventEnvelope<string, FanoutWork>) => void queued.push(event) } as unknown as EventBus;
    fanout = new Fanout(feed.repositories(), bus, { threshold: 5, chunkSize: 10 });
  });

  const original = tweetId(1);
  const facts = (userId: string, n: number) => ({
    tweetId: original,
    authorId: 'author',
    userId,
    engagedAt: tweetId(n),
    version: n,
  });
  const repost = (userId: string, n: number) => createEvent('repost.created', facts(userId, n), { correlationId: `r${n}` });
  const undo = (userId: string, n: number) => createEvent('repost.deleted', facts(userId, n), { correlationId: `u${n}` });
  /** A user's timeline as (row key, whose repost) pairs. */
  const rows = (userId: string) => feed.home(userId).map((key) => [key, feed.homes.get(userId)!.get(key)!.repostedBy ?? null]);
  /** A Fanout that queues audiences of more than two as work items. */
  const queueing = (repositories = feed.repositories()) =>
    new Fanout(
      repositories,
      { publish: async (event: EventEnvelope<string, FanoutWork>) => void queued.push(event) } as unknown as EventBus,
      { threshold: 5, chunkSize: 2 },
    );
  const deleted = () => createEvent('tweet.deleted', { tweetId: original, authorId: 'author' }, { correlationId: 'd' });

  it("reaches the reposter and their followers, but not the author or the author's followers, who have the tweet", async () => {
    feed.follow('author', 'fan-of-both');
    feed.follow('booster', 'fan-of-both', 'fan-of-booster');
    await fanout.repostCreated(repost('booster', 10));
    expect([rows('booster'), rows('fan-of-booster'), rows('fan-of-both'), rows('author')]).toEqual([
      [[tweetId(10), 'booster']],
      [[tweetId(10), 'booster']],
      [],
      [],
    ]);
    expect(feed.homes.get('fan-of-booster')!.get(tweetId(10))).toMatchObject({ originalId: original, authorId: 'author' });
  });

  it('gives no second copy to a timeline an earlier repost reached, yet lets a retried repost finish its own copies', async () => {
    feed.follow('first', 'reader');
    feed.follow('second', 'reader', 'only-second');
    await fanout.repostCreated(repost('first', 10));
    await fanout.repostCreated(repost('second', 11));
    expect([rows('reader'), rows('only-second')]).toEqual([[[tweetId(10), 'first']], [[tweetId(11), 'second']]]);
    feed.homes.get('only-second')!.clear();
    await fanout.repostCreated(repost('second', 11));
    expect(rows('only-second')).toEqual([[tweetId(11), 'second']]);
  });

  it('takes an undone repost out of the timelines it reached, and leaves other reposts of the tweet', async () => {
    feed.follow('first', 'a');
    feed.follow('second', 'b');
    await fanout.repostCreated(repost('first', 10));
    await fanout.repostCreated(repost('second', 11));
    await fanout.repostDeleted(undo('first', 10));
    expect([rows('first'), rows('a'), rows('second'), rows('b')]).toEqual([
      [],
      [],
      [[tweetId(11), 'second']],
      [[tweetId(11), 'second']],
    ]);
  });

  it("adds nothing for a repost whose undo, or whose original's deletion, arrived first", async () => {
    feed.follow('booster', 'fan');
    await fanout.repostDeleted(undo('booster', 10));
    await fanout.repostCreated(repost('booster', 10));
    await fanout.tweetDeleted(createEvent('tweet.deleted', { tweetId: original, authorId: 'author' }, { correlationId: 'd' }));
    await fanout.repostCreated(repost('booster', 12));
    expect([rows('booster'), rows('fan'), queued]).toEqual([[], [], []]);
  });

  it('takes every repost out of every timeline when the original is deleted', async () => {
    feed.follow('first', 'a');
    feed.follow('second', 'b');
    await fanout.repostCreated(repost('first', 10));
    await fanout.repostCreated(repost('second', 11));
    await fanout.tweetDeleted(createEvent('tweet.deleted', { tweetId: original, authorId: 'author' }, { correlationId: 'd' }));
    for (const userId of ['first', 'a', 'second', 'b']) expect(rows(userId)).toEqual([]);
  });

  it('queues a big audience as repost work items, applied with the same rule', async () => {
    fanout = queueing();
    feed.follow('author', 'f1');
    feed.follow('booster', 'f1', 'f2', 'f3');
    await fanout.repostCreated(repost('booster', 10));
    expect(queued.map((event) => event.data.kind)).toEqual(['repost', 'repost']);
    for (const item of queued) await fanout.apply(item.data);
    expect(['booster', 'f1', 'f2', 'f3'].map((userId) => rows(userId).length)).toEqual([1, 0, 1, 1]);
  });

  it('writes nothing from repost work items still queued when the original is deleted', async () => {
    fanout = queueing();
    feed.follow('booster', 'f1', 'f2', 'f3');
    await fanout.repostCreated(repost('booster', 10));
    await fanout.tweetDeleted(deleted());
    for (const item of queued) await fanout.apply(item.data);
    expect(['booster', 'f1', 'f2', 'f3'].filter((userId) => rows(userId).length > 0)).toEqual([]);
  });

  it.each([
    ['the original is deleted', () => fanout.tweetDeleted(deleted())],
    ['the repost is undone', () => fanout.repostDeleted(undo('booster', 10))],
  ])('takes back what a repost work item writes when %s between its check and its writes', async (_, meanwhile) => {
    const repositories = feed.repositories();
    // The event is handled once the work item has checked the repost, before it records its deliveries.
    const interleaved = interleaveAfter(repositories.reposts, 'deliveredAmong', meanwhile);
    fanout = queueing(repositories);
    feed.follow('booster', 'f1', 'f2', 'f3');
    await fanout.repostCreated(repost('booster', 10));
    for (const item of queued) await fanout.apply(item.data);
    expect(interleaved()).toBe(true);
    expect(['booster', 'f1', 'f2', 'f3'].filter((userId) => rows(userId).length > 0)).toEqual([]);
    expect([...(feed.deliveries.get(original) ?? [])]).toEqual([]);
  });
});

describe('reading a home timeline merges read-time authors', () => {
  const viewer = { viewerId: 'viewer', clientAddress: null, correlationId: 'read' };

  it('interleaves stored items and read-time authors’ tweets newest first, without duplicates, across pages', async () => {
    const feed = new InMemoryFeed();
    const repositories = feed.repositories();
    feed.follow('writer', 'viewer');
    feed.follow('celebrity', 'viewer');
    feed.readTime.add('celebrity');
    feed.indexReadTimeFollowers('celebrity', 'viewer');
    for (const n of [1, 3, 5])
      await repositories.timelines.addToTimelines(['viewer'], { tweetId: tweetId(n), authorId: 'writer' });
    for (const n of [2, 4, 6]) await repositories.authorTweets.recordTweet('celebrity', tweetId(n));
    // An item stored before the author became read-time is not shown twice.
    await repositories.timelines.addToTimelines(['viewer'], { tweetId: tweetId(4), authorId: 'celebrity' });
    // Someone the viewer does not follow (any more) is not merged, nor is someone no longer read-time.
    feed.readTime.add('stranger');
    feed.indexReadTimeFollowers('stranger', 'viewer');
    feed.indexReadTimeFollowers('writer', 'viewer');
    await repositories.authorTweets.recordTweet('stranger', tweetId(7));

    const service = new FeedService(repositories, undefined as never, viewer);
    const first = await service.homeTimeline({ first: 4 });
    const rest = await service.homeTimeline({ first: 4, after: first.pageInfo.endCursor });
    const ids = [...first.edges, ...rest.edges].map((edge) => edge.node.id);
    expect(ids).toEqual([6, 5, 4, 3, 2, 1].map(tweetId));
    expect([first.pageInfo.hasNextPage, rest.pageInfo.hasNextPage]).toEqual([true, false]);
  });

  it('refuses an anonymous reader', async () => {
    const service = new FeedService(new InMemoryFeed().repositories(), undefined as never, { ...viewer, viewerId: null });
    await expect(service.homeTimeline({})).rejects.toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
  });
});
