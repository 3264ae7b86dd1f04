import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CassandraClient } from '../../platform/cassandra/client.js';
import { keyspaceOf } from '../../platform/manifest.js';
import { createEvent } from '../../platform/messaging/events.js';
import { Fanout } from '../../subgraphs/feed/src/fanout.js';
import { feedRepositories } from '../../subgraphs/feed/src/repositories/index.js';
import { FeedService } from '../../subgraphs/feed/src/service.js';
import { TweetRepository } from '../../subgraphs/tweets/src/repository.js';
import { cassandraFor, testConfig } from '../support/infra.js';

/** The largest result and the longest list of keys any one statement of a session has had, as the database answered. */
function measured(session: CassandraClient) {
  type Execute = (query: string, params?: unknown[], options?: object) => Promise<{ rowLength: number }>;
  const seen = { rows: 0, keys: 0 };
  const original = session.execute.bind(session) as Execute;
  const execute: Execute = async (query, params = [], options) => {
    for (const param of params) if (Array.isArray(param)) seen.keys = Math.max(seen.keys, param.length);
    const result = await original(query, params, options);
    seen.rows = Math.max(seen.rows, result.rowLength);
    return result;
  };
  const client = new Proxy(session, {
    get: (target, property, receiver) => (property === 'execute' ? execute : Reflect.get(target, property, receiver)),
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
    const tweetIds = new TweetRepository(cassandra);
    let version = Date.now() * 1000;
    const follows = (followerId: string, followeeId: string) =>
      fanout.followCreated({ followerId, followeeId, createdAt: new Date().toISOString(), version: version++ });
    const post = async (authorId: string) => {
      const tweetId = tweetIds.newId(new Date());
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
});
