import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CassandraClient } from '../../subgraphs/shared/cassandra.js';
import { FollowRepository } from '../../subgraphs/follows/src/repository.js';
import { fanOutTweet } from '../../subgraphs/feed/src/fanout.js';
import { TimelineRepository } from '../../subgraphs/feed/src/repository.js';
import { TweetRepository } from '../../subgraphs/tweets/src/repository.js';
import { UserRepository } from '../../subgraphs/users/src/repository.js';
import { cassandraFor } from '../support/infra.js';

const sessions: CassandraClient[] = [];
const open = async (keyspace: string) => {
  const session = await cassandraFor(keyspace);
  sessions.push(session);
  return session;
};
afterAll(async () => {
  await Promise.all(sessions.map((session) => session.shutdown()));
});

describe('UserRepository', () => {
  let users: UserRepository;
  beforeAll(async () => {
    users = new UserRepository(await open('users'));
  });

  it('lets exactly one of many simultaneous claims of a name win', async () => {
    const key = `race_${randomUUID()}`;
    const claimants = Array.from({ length: 12 }, () => randomUUID());
    const results = await Promise.all(claimants.map((id) => users.claimUsername(key, id)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await users.findIdByUsername(key)).toBe(claimants[results.indexOf(true)]);
  });

  it('stores and finds users by id in one query', async () => {
    const stored = [1, 2].map((n) => ({
      id: randomUUID(),
      username: `repo${n}`,
      displayName: `Repo ${n}`,
      passwordHash: '$argon2id$fake',
      createdAt: new Date('2026-01-02T03:04:05.678Z'),
    }));
    for (const user of stored) await users.insert(user);
    const found = await users.findByIds([stored[1].id, stored[0].id, randomUUID()]);
    expect(found.sort((a, b) => a.username.localeCompare(b.username))).toEqual(stored);
    await users.delete(stored[0].id);
    expect(await users.findByIds([stored[0].id])).toEqual([]);
  });
});

describe('TweetRepository', () => {
  let tweets: TweetRepository;
  beforeAll(async () => {
    tweets = new TweetRepository(await open('tweets'));
  });

  it('keeps two tweets of one millisecond and pages an author newest first', async () => {
    const authorId = randomUUID();
    const sameMillisecond = new Date();
    const written = [];
    for (let i = 0; i < 5; i++) {
      const tweet = { id: tweets.newId(sameMillisecond), authorId, text: `t${i}`, createdAt: sameMillisecond };
      await tweets.insert(tweet);
      written.push(tweet);
    }
    expect(new Set(written.map((tweet) => tweet.id)).size).toBe(5);

    const first = await tweets.idsByAuthor(authorId, { limit: 3 });
    const second = await tweets.idsByAuthor(authorId, { limit: 3, afterId: first.items.at(-1) });
    expect(first.hasNextPage).toBe(true);
    expect(second).toMatchObject({ hasNextPage: false });
    expect([...first.items, ...second.items].sort()).toEqual(written.map((tweet) => tweet.id).sort());
    expect(new Set([...first.items, ...second.items]).size).toBe(5);
    expect(await tweets.findByIds([written[0].id])).toEqual([written[0]]);
  });
});

describe('FollowRepository', () => {
  let follows: FollowRepository;
  beforeAll(async () => {
    follows = new FollowRepository(await open('follows'));
  });

  it('counts exactly through repeats and removal', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await follows.insert(b, a, new Date());
    await follows.insert(b, a, new Date());
    await follows.insert(c, a, new Date());
    expect([await follows.followerCount(a), await follows.followingCount(b), await follows.isFollowing(b, a)]).toEqual([2, 1, true]);
    await follows.delete(b, a);
    await follows.delete(b, a);
    expect([await follows.followerCount(a), await follows.followingCount(b), await follows.isFollowing(b, a)]).toEqual([1, 0, false]);
  });

  it('remembers users it was told about', async () => {
    const id = randomUUID();
    expect(await follows.userExists(id)).toBe(false);
    await follows.rememberUser(id);
    expect(await follows.userExists(id)).toBe(true);
  });
});

describe('TimelineRepository and fan-out', () => {
  let cassandra: CassandraClient;
  beforeAll(async () => {
    cassandra = await open('feed');
  });

  it('writes a tweet into the author and every follower, a page of followers at a time, idempotently', async () => {
    const timelines = new TimelineRepository(cassandra, { followerPageSize: 7, fanoutConcurrency: 4 });
    const authorId = randomUUID();
    const followerIds = Array.from({ length: 25 }, () => randomUUID());
    for (const followerId of followerIds) await timelines.addFollower(authorId, followerId);
    await timelines.removeFollower(authorId, followerIds[0]);

    const tweetId = new TweetRepository(cassandra).newId(new Date());
    const tweet = { tweetId, authorId, text: 'x', createdAt: new Date().toISOString() };
    await fanOutTweet(timelines, tweet);
    await fanOutTweet(timelines, tweet);

    for (const userId of [authorId, ...followerIds.slice(1)]) {
      expect((await timelines.timeline(userId, { limit: 10 })).items).toEqual([{ tweetId, authorId }]);
    }
    expect((await timelines.timeline(followerIds[0], { limit: 10 })).items).toEqual([]);
  });
});
