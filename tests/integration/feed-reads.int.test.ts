import { randomUUID } from 'node:crypto';

import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import type { CassandraClient } from '../../platform/cassandra/client.js';
import { loadTypeDefs } from '../../platform/http/subgraph-server.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { keyspaceOf } from '../../platform/manifest.js';
import { createEvent } from '../../platform/messaging/events.js';
import { Fanout } from '../../subgraphs/feed/src/fanout.js';
import { ReadTimeFollowerIndexer } from '../../subgraphs/feed/src/read-time-index.js';
import { type FeedRepositories, feedRepositories } from '../../subgraphs/feed/src/repositories/index.js';
import { resolvers } from '../../subgraphs/feed/src/resolvers/index.js';
import { subgraph } from '../../subgraphs/feed/src/server.js';
import { FeedService } from '../../subgraphs/feed/src/service.js';
import { eventually } from '../support/client.js';
import { cassandraFor, testConfig, testLogger } from '../support/infra.js';

/**
 * The statements a session has run, and the largest result and the longest list of keys any one of them has had, as
 * the database answered.
 */
function measured(session: CassandraClient) {
  type Execute = (query: string, params?: unknown[], options?: object) => Promise<{ rowLength: number }>;
  const seen = { statements: 0, rows: 0, keys: 0 };
  const original = session.execute.bind(session) as Execute;
  const execute: Execute = async (query, params = [], options) => {
    seen.statements++;
    for (const param of params) if (Array.isArray(param)) seen.keys = Math.max(seen.keys, param.length);
    const result = await original(query, params, options);
    seen.rows = Math.max(seen.rows, result.rowLength);
    return result;
  };
  // A batch is one statement: one round trip.
  const batch = (...args: unknown[]) => {
    seen.statements++;
    return (session.batch as (...args: unknown[]) => Promise<unknown>).apply(session, args);
  };
  const client = new Proxy(session, {
    get: (target, property, receiver) =>
      property === 'execute' ? execute : property === 'batch' ? batch : Reflect.get(target, property, receiver),
  });
  return { client, seen };
}

describe('reading a feed', () => {
  let cassandra: CassandraClient;
  beforeAll(async () => {
    cassandra = await cassandraFor(keyspaceOf('feed', testConfig().TWTR_NAMESPACE));
  });
  afterAll(async () => {
    await cassandra.shutdown();
  });

  it('reads a bounded number of rows at once however many accounts the viewer follows, read-time authors included', async () => {
    const pageSize = 10;
    const threshold = 3;
    const repositories = feedRepositories(cassandra);
    // Audiences within one chunk are handled at once, so the bus is never used here.
    const fanout = new Fanout(repositories, undefined as never, { threshold, chunkSize: 1_000 });
    const ids = new MintedIds('feed-reads test');
    let version = Date.now() * 1000;
    const follows = (followerId: string, followeeId: string) =>
      fanout.followCreated({ followerId, followeeId, createdAt: new Date().toISOString(), version: version++ });
    const post = async (authorId: string) => {
      const tweetId = ids.mint('tweet');
      await fanout.tweetCreated(
        createEvent(
          'tweet.created',
          { tweetId, authorId, text: 'x', createdAt: new Date().toISOString() },
          { correlationId: 't' },
        ),
      );
      return tweetId;
    };

    const viewer = randomUUID();
    const others = Array.from({ length: threshold }, () => randomUUID());
    // Three times the page size of ordinary authors, who write into the viewer's timeline.
    const ordinary = Array.from({ length: 3 * pageSize }, () => randomUUID());
    for (const authorId of ordinary) await follows(viewer, authorId);
    // One author above the threshold before their first tweet, followed by the viewer all along ...
    const early = randomUUID();
    for (const followerId of [viewer, ...others]) await follows(followerId, early);
    // ... and one the viewer follows only once they are above it.
    const late = randomUUID();
    for (const followerId of others) await follows(followerId, late);
    await follows(randomUUID(), late);
    await post(late);
    await follows(viewer, late);

    const fromOrdinary = await post(ordinary[0]);
    const fromEarly = await post(early);
    const fromLate = await post(late);
    // Neither read-time author's tweet is in the stored timeline: only merging at read time shows them.
    expect((await repositories.timelines.timeline(viewer, { limit: 10 })).items.map((item) => item.tweetId)).not.toContain(
      fromLate,
    );

    const { client, seen } = measured(cassandra);
    const service = new FeedService(feedRepositories(client, { readTimeFolloweePageSize: pageSize }), undefined as never, {
      viewerId: viewer,
      clientAddress: null,
      correlationId: 't',
    });
    const page = await service.homeTimeline({ first: 3 });
    expect(page.edges.map((edge) => edge.node.id)).toEqual([fromLate, fromEarly, fromOrdinary]);
    expect(seen.rows).toBeLessThanOrEqual(pageSize);
    expect(seen.keys).toBeLessThanOrEqual(pageSize);
  });

  describe('an author marked read-time before the index of read-time followees existed (migrations/feed/005)', () => {
    /** The author, followed by a viewer and two others while fanned out on write, then marked as the old version did. */
    async function markedTheOldWay(repositories: FeedRepositories) {
      const fanout = new Fanout(repositories, undefined as never, { threshold: 1_000, chunkSize: 1_000 });
      const [viewer, author] = [randomUUID(), randomUUID()];
      let version = Date.now() * 1000;
      for (const followerId of [randomUUID(), viewer, randomUUID()])
        await fanout.followCreated({ followerId, followeeId: author, createdAt: new Date().toISOString(), version: version++ });
      // No followers_indexed and no rows in read_time_followees_by_user: what a deployed system holds on upgrade.
      await cassandra.execute('INSERT INTO read_time_authors (author_id, since) VALUES (?, ?)', [author, new Date()]);
      const tweetId = new MintedIds('feed-reads test').mint('tweet');
      await repositories.authorTweets.recordTweet(author, tweetId);
      return { viewer, author, tweetId };
    }

    const viewing = (repositories: FeedRepositories, viewerId: string, unindexed?: () => readonly string[]) => {
      const service = new FeedService(
        repositories,
        undefined as never,
        { viewerId, clientAddress: null, correlationId: 't' },
        unindexed,
      );
      return async () => (await service.homeTimeline({ first: 10 })).edges.map((edge) => edge.node.id);
    };

    it("is indexed when the feed starts, after a failed try, so followers' feeds merge their tweets again", async () => {
      // Two followers a page: the author's followers take more than one.
      const repositories = feedRepositories(cassandra, { followerPageSize: 2 });
      const { viewer, author, tweetId } = await markedTheOldWay(repositories);
      // Only in the author's list: a feed shows it only if the read finds the author (here, in the index only).
      const feed = viewing(repositories, viewer);
      expect(await feed()).toEqual([]);

      let failures = 1;
      const flaky: FeedRepositories = {
        ...repositories,
        readTimeAuthors: Object.assign(Object.create(repositories.readTimeAuthors) as FeedRepositories['readTimeAuthors'], {
          async *unindexedReadTimeAuthors() {
            if (failures-- > 0) throw new Error('Cassandra is away');
            yield* repositories.readTimeAuthors.unindexedReadTimeAuthors();
          },
        }),
      };
      const indexer = new ReadTimeFollowerIndexer(flaky, testLogger(), { retryDelayMs: 50 });
      try {
        await indexer.start();
        await eventually(async () => expect(await feed()).toEqual([tweetId]));
        expect(failures).toBeLessThan(0);
        expect(await repositories.readTimeAuthors.followersIndexed(author)).toBe(true);
        await eventually(async () => expect(indexer.unindexedAuthorIds()).not.toContain(author));
      } finally {
        indexer.stop();
      }
    });

    it('has their tweets merged into feeds while their followers are still being indexed', async () => {
      const repositories = feedRepositories(cassandra);
      const { viewer, author, tweetId } = await markedTheOldWay(repositories);
      // Indexing fails (and would be tried again a minute later): the author stays unindexed throughout.
      const stuck: FeedRepositories = {
        ...repositories,
        graph: Object.assign(Object.create(repositories.graph) as FeedRepositories['graph'], {
          indexReadTimeFollowers: () => Promise.reject(new Error('Cassandra is away')),
        }),
      };
      const indexer = new ReadTimeFollowerIndexer(stuck, testLogger());
      try {
        await indexer.start();
        expect(indexer.unindexedAuthorIds()).toContain(author);
        expect(await viewing(repositories, viewer)()).toEqual([]);
        expect(await viewing(repositories, viewer, indexer.unindexedAuthorIds)()).toEqual([tweetId]);
        // Only for those who follow them.
        expect(await viewing(repositories, randomUUID(), indexer.unindexedAuthorIds)()).toEqual([]);
      } finally {
        indexer.stop();
        await repositories.readTimeAuthors.unmarkReadTimeAuthor(author);
      }
    });

    it('is not made read-time again when indexing completes after the author fell back under the threshold', async () => {
      const repositories = feedRepositories(cassandra);
      const { author } = await markedTheOldWay(repositories);
      let found;
      for await (const unindexed of repositories.readTimeAuthors.unindexedReadTimeAuthors())
        if (unindexed.authorId === author) found = unindexed;
      expect(found).toBeDefined();
      // A tweet of the author's, under the threshold now, unmarks them while their followers are being indexed.
      await repositories.readTimeAuthors.unmarkReadTimeAuthor(author);
      await repositories.readTimeAuthors.completeFollowersIndexed(found!);
      expect(await repositories.readTimeAuthors.isReadTimeAuthor(author)).toBe(false);
      expect(await repositories.readTimeAuthors.followersIndexed(author)).toBe(false);
    });
  });

  describe("likes and reposts on a page (the feed's copy: viewer_engagements, engagements_by_tweet)", () => {
    const ids = new MintedIds('engagement-copy test');

    it('converge to the latest change whatever order, and however often, the events arrive in', async () => {
      const { engagements } = feedRepositories(cassandra);
      const [viewer, fan, tweetId] = [randomUUID(), randomUUID(), ids.mint('tweet')];
      const state = async () => ({
        viewers: [...(await engagements.among(viewer, [tweetId]))].sort(),
        counts: (await engagements.counts([tweetId])).get(tweetId),
      });
      const version = Date.now() * 1000;
      // An unlike (version + 1) that overtook its like: the like arriving after it adds nothing.
      await engagements.forget('like', viewer, tweetId, version + 1);
      await engagements.record('like', viewer, tweetId, version);
      expect(await state()).toEqual({ viewers: [], counts: { like: 0, repost: 0 } });
      // Liked again later; the first like and its unlike delivered once more change nothing.
      await engagements.record('like', viewer, tweetId, version + 50);
      await engagements.record('like', viewer, tweetId, version);
      await engagements.forget('like', viewer, tweetId, version + 1);
      await engagements.record('repost', viewer, tweetId, version + 60);
      await engagements.record('like', fan, tweetId, version + 70);
      await engagements.record('like', fan, tweetId, version + 70);
      expect(await state()).toEqual({
        viewers: [`like:${tweetId}`, `repost:${tweetId}`],
        counts: { like: 2, repost: 1 },
      });
    });

    it('are copied in rounds: changes arriving at once share a few batches, and still converge to the latest', async () => {
      const { client: counting, seen } = measured(cassandra);
      const { engagements } = feedRepositories(counting);
      const tweetId = ids.mint('tweet');
      const fans = Array.from({ length: 100 }, () => randomUUID());
      const version = Date.now() * 1000;
      await Promise.all([
        ...fans.map((fan) => engagements.record('like', fan, tweetId, version)),
        // The first fan's unlike overtook its like again, in the same round; the second fan's came after it.
        engagements.forget('like', fans[0], tweetId, version + 1),
        engagements.forget('like', fans[1], tweetId, version - 1),
      ]);
      expect(seen.statements).toBeLessThanOrEqual(8);
      expect((await engagements.counts([tweetId])).get(tweetId)).toEqual({ like: 99, repost: 0 });
      expect([...(await engagements.among(fans[0], [tweetId]))]).toEqual([]);
      expect([...(await engagements.among(fans[1], [tweetId]))]).toEqual([`like:${tweetId}`]);
    });

    it("are read in one statement each per page whatever its size, counts for all, flags for the viewer's own", async () => {
      const { engagements } = feedRepositories(cassandra);
      const [viewer, other] = [randomUUID(), randomUUID()];
      const tweetIds = Array.from({ length: 50 }, () => ids.mint('tweet'));
      const version = Date.now() * 1000;
      await engagements.record('like', viewer, tweetIds[1], version);
      await engagements.record('repost', viewer, tweetIds[2], version);
      await engagements.record('like', other, tweetIds[1], version);

      const readPage = async (size: number) => {
        const { client: counting, seen } = measured(cassandra);
        const service = new FeedService(feedRepositories(counting), undefined as never, {
          viewerId: viewer,
          clientAddress: null,
          correlationId: 't',
        });
        // As GraphQL resolves a page: every field of every tweet in the same tick.
        const page = tweetIds.slice(0, size);
        const [likes, reposts, likeCounts] = await Promise.all([
          Promise.all(page.map((id) => service.viewerHas('like', id))),
          Promise.all(page.map((id) => service.viewerHas('repost', id))),
          Promise.all(page.map((id) => service.count('like', id))),
        ]);
        return {
          statements: seen.statements,
          liked: likes.flatMap((yes, index) => (yes ? [index] : [])),
          reposted: reposts.indexOf(true),
          likeCounts: likeCounts.slice(0, 4),
        };
      };
      const expected = { statements: 2, liked: [1], reposted: 2, likeCounts: [0, 2, 0, 0] };
      expect(await readPage(5)).toEqual(expected);
      expect(await readPage(50)).toEqual(expected);
    });

    it('are read with the page its query asks them of, through fragments, one statement each whatever its size', async () => {
      const schema = buildSubgraphSchema([{ typeDefs: loadTypeDefs(subgraph.schemaFile), resolvers: resolvers as never }]);
      const [viewer, other] = [randomUUID(), randomUUID()];
      const tweetIds = Array.from({ length: 50 }, () => ids.mint('tweet'));
      const { timelines, engagements } = feedRepositories(cassandra);
      for (const tweetId of tweetIds) await timelines.addToTimelines([viewer], { tweetId, authorId: other });
      const version = Date.now() * 1000;
      const [newest, second] = [tweetIds.at(-1)!, tweetIds.at(-2)!];
      await engagements.record('like', viewer, newest, version);
      await engagements.record('like', other, newest, version);
      await engagements.record('repost', viewer, second, version);

      const readPage = async (size: number, selection: string) => {
        const { client: counting, seen } = measured(cassandra);
        const scope = { viewerId: viewer, clientAddress: null, correlationId: 't' };
        const service = new FeedService(feedRepositories(counting), undefined as never, scope);
        // Not field by field: the page came with them.
        const byField = [vi.spyOn(service, 'count'), vi.spyOn(service, 'viewerHas')];
        const result = await execute({
          schema,
          document: parse(`query { feed(first: ${size}) { edges { node { id ${selection} } } } }
            fragment Counted on Tweet { likeCount repostCount }`),
          contextValue: { ...scope, services: { feed: service } },
        });
        expect(result.errors).toBeUndefined();
        expect(byField.map((spy) => spy.mock.calls.length)).toEqual([0, 0]);
        const nodes = (result.data as any).feed.edges.map((edge: any) => edge.node);
        return { statements: seen.statements, nodes: nodes.slice(0, 2) };
      };
      const plain = await readPage(5, '');
      const asked = '... on Tweet { viewerHasLiked viewerHasReposted } ...Counted';
      const expected = {
        statements: plain.statements + 2,
        nodes: [
          { id: newest, viewerHasLiked: true, viewerHasReposted: false, likeCount: 2, repostCount: 0 },
          { id: second, viewerHasLiked: false, viewerHasReposted: true, likeCount: 0, repostCount: 1 },
        ],
      };
      expect(await readPage(5, asked)).toEqual(expected);
      expect(await readPage(50, asked)).toEqual(expected);
      expect((await readPage(5, 'likeCount')).statements).toBe(plain.statements + 1);
    });
  });
});
