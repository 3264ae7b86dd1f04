import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { batchesByReplica, type CassandraClient, cql, type Statement } from '../../platform/cassandra/client.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { createEvent } from '../../platform/messaging/events.js';
import { Fanout } from '../../subgraphs/feed/src/fanout.js';
import { feedRepositories } from '../../subgraphs/feed/src/repositories/index.js';
import { FollowRepository } from '../../subgraphs/follows/src/repository.js';
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

/** Runs the statements a repository prepares for the outbox's batch, one by one (at `timestamp`, as the outbox would). */
const apply = async (session: CassandraClient, statements: Statement[], timestamp?: number) => {
  for (const { query, params } of statements) await session.execute(query, params, { prepare: true, timestamp });
};

describe('UserRepository', () => {
  let users: UserRepository;
  let session: CassandraClient;
  beforeAll(async () => {
    session = await open('users');
    users = new UserRepository(session);
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
    for (const user of stored) await apply(session, [users.insert(user)]);
    const found = await users.findByIds([stored[1].id, stored[0].id, randomUUID()]);
    expect(found.sort((a, b) => a.username.localeCompare(b.username))).toEqual(stored);
    await users.updateDisplayName(stored[0].id, 'Renamed');
    expect((await users.findByIds([stored[0].id]))[0].displayName).toBe('Renamed');
  });
});

describe('TweetRepository', () => {
  let tweets: TweetRepository;
  let session: CassandraClient;
  beforeAll(async () => {
    session = await open('tweets');
    tweets = new TweetRepository(session);
  });

  it('keeps two tweets of one millisecond and pages an author newest first', async () => {
    const authorId = randomUUID();
    const sameMillisecond = new Date();
    const written = [];
    for (let i = 0; i < 5; i++) {
      const id = new MintedIds('repositories test').mint('tweet', sameMillisecond);
      const tweet = {
        id,
        authorId,
        text: `t${i}`,
        createdAt: sameMillisecond,
        inReplyToId: null,
        mentionIds: [],
        deletedAt: null,
      };
      await apply(session, tweets.insert(tweet));
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
    expect(await tweets.countByAuthor(authorId)).toBe(5);

    const deletedAt = new Date();
    await apply(session, tweets.markDeleted(written[0], deletedAt));
    expect(await tweets.findByIds([written[0].id])).toEqual([{ ...written[0], deletedAt }]);
    expect(await tweets.countByAuthor(authorId)).toBe(4);
  });
});

describe('FollowRepository', () => {
  let follows: FollowRepository;
  let session: CassandraClient;
  beforeAll(async () => {
    session = await open('follows');
    follows = new FollowRepository(session);
  });

  it('claims a relationship once and reports when it began', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const claims = await Promise.all(Array.from({ length: 5 }, () => follows.claimFollow(b, a)));
    const [relationship] = claims.map((claim) => claim.relationship!);
    expect(new Set(claims.map((claim) => String(claim.relationship?.followedAt))).size).toBe(1);
    expect(new Set(claims.map((claim) => claim.relationship?.version)).size).toBe(1);
    expect(claims.filter((claim) => claim.isNew)).toHaveLength(1);
    expect(await follows.followedAmong(b, [a, randomUUID()])).toEqual(new Set([a]));
    const ended = await follows.releaseFollow(b, a);
    expect([String(ended?.followedAt), ended?.deleteAt]).toEqual([String(relationship.followedAt), relationship.version + 1]);
    expect(await follows.releaseFollow(b, a)).toBeNull();
    expect(await follows.followedAmong(b, [a])).toEqual(new Set());
  });

  it("versions each relationship by its claim's write time in the database, whatever the service's clock says", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const first = (await follows.claimFollow(b, a)).relationship!;
    await apply(session, follows.followRows(b, a, first.followedAt), first.version);
    const ended = (await follows.releaseFollow(b, a))!;
    await apply(session, follows.unfollowRows(b, a, ended.followedAt), ended.deleteAt);
    // The next follow runs on a replica whose clock is 10 s behind: its start is earlier, its version still later.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 10_000);
    const second = await follows.claimFollow(b, a).finally(() => vi.useRealTimers());
    const { followedAt, version } = second.relationship!;
    expect(followedAt.getDate().getTime()).toBeLessThan(first.followedAt.getDate().getTime());
    expect(version).toBeGreaterThan(ended.deleteAt);
    await apply(session, follows.followRows(b, a, followedAt), version);
    expect(await follows.followerCount(a)).toBe(1);
    expect(String(await follows.followerRowSince(b, a))).toBe(String(followedAt));
  });

  it('tells a follower row an interrupted unfollow left behind from one a concurrent follow just wrote', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const { followedAt, version } = (await follows.claimFollow(b, a)).relationship!;
    await apply(session, follows.followRows(b, a, followedAt), version);
    expect(await follows.orphanedFollow(b, a)).toBeNull();
    await follows.releaseFollow(b, a);
    const leftover = await follows.orphanedFollow(b, a);
    expect([String(leftover?.followedAt), leftover?.deleteAt]).toEqual([String(followedAt), version + 1]);
    const again = (await follows.claimFollow(b, a)).relationship!;
    await apply(session, follows.followRows(b, a, again.followedAt), again.version);
    expect(await follows.orphanedFollow(b, a)).toBeNull();
  });

  it('lists relationships newest first and counts them exactly', async () => {
    const followee = randomUUID();
    const followerIds = [randomUUID(), randomUUID(), randomUUID()];
    for (const followerId of followerIds) {
      const { followedAt, version } = (await follows.claimFollow(followerId, followee)).relationship!;
      await apply(session, follows.followRows(followerId, followee, followedAt), version);
    }
    const first = await follows.followersOf(followee, { limit: 2 });
    const rest = await follows.followersOf(followee, { limit: 2, afterId: first.items.at(-1)!.followedAt });
    expect([...first.items, ...rest.items].map((relationship) => relationship.userId)).toEqual([...followerIds].reverse());
    expect([first.hasNextPage, rest.hasNextPage]).toEqual([true, false]);
    expect(await follows.followerCount(followee)).toBe(3);
    expect((await follows.followingOf(followerIds[0], { limit: 10 })).items.map((relationship) => relationship.userId)).toEqual([
      followee,
    ]);
  });

  it('remembers users it was told about', async () => {
    const id = randomUUID();
    expect(await follows.userExists(id)).toBe(false);
    await follows.rememberUser(id);
    expect(await follows.userExists(id)).toBe(true);
  });
});

describe('the feed repositories and fan-out', () => {
  let cassandra: CassandraClient;
  beforeAll(async () => {
    cassandra = await open('feed');
  });

  it('writes a tweet into the author and every follower, a page of followers at a time, idempotently', async () => {
    const repositories = feedRepositories(cassandra, { followerPageSize: 7, fanoutConcurrency: 4 });
    const authorId = randomUUID();
    const followerIds = Array.from({ length: 25 }, () => randomUUID());
    for (const followerId of followerIds) await repositories.graph.addFollower(authorId, followerId, 1000);
    await repositories.graph.removeFollower(authorId, followerIds[0], 2000);
    // A stale follow.created (older version) arriving late does not bring the follower back.
    await repositories.graph.addFollower(authorId, followerIds[0], 1500);

    const tweetId = new MintedIds('repositories test').mint('tweet');
    const tweet = createEvent(
      'tweet.created',
      { tweetId, authorId, text: 'x', createdAt: new Date().toISOString() },
      { correlationId: 'test' },
    );
    // Audiences within one chunk are fanned out at once, so the bus is never used here.
    const fanout = new Fanout(repositories, undefined as never, { threshold: 10_000, chunkSize: 1_000 });
    await fanout.tweetCreated(tweet);
    await fanout.tweetCreated(tweet);

    for (const userId of [authorId, ...followerIds.slice(1)]) {
      expect((await repositories.timelines.timeline(userId, { limit: 10 })).items).toEqual([{ tweetId, authorId }]);
    }
    expect((await repositories.timelines.timeline(followerIds[0], { limit: 10 })).items).toEqual([]);
  });

  it('groups single-row writes into batches of at most the given size, every row in exactly one', () => {
    const rows = Array.from({ length: 45 }, () => [randomUUID(), 'x']);
    const batches = batchesByReplica(cassandra, rows, ([userId]) => cql.Uuid.fromString(String(userId)).getBuffer(), 20);
    expect(batches.map((batch) => batch.length)).toEqual([20, 20, 5]); // one node: one replica for every row
    expect(batches.flat()).toEqual(rows);
    // The driver knows the ring: the grouping is by a real replica, not the fallback.
    expect(cassandra.metadata.getReplicas(cassandra.keyspace, cql.Uuid.fromString(String(rows[0][0])).getBuffer())).toHaveLength(
      1,
    );
  });
});
