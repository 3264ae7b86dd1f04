import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, cql } from '../../platform/cassandra/client.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { RateLimiter, RateLimits } from '../../platform/limits/rate-limiter.js';
import { RecentCounts } from '../../platform/limits/recent-counts.js';
import { Outbox } from '../../platform/messaging/outbox.js';
import { NO_COUNTS } from '../../subgraphs/engagement/src/model.js';
import { EngagementRepository } from '../../subgraphs/engagement/src/repository.js';
import { EngagementService } from '../../subgraphs/engagement/src/service.js';
import { cassandraFor, testConfig } from '../support/infra.js';

let cassandra: CassandraClient;
beforeAll(async () => {
  cassandra = await cassandraFor('engagement');
});
afterAll(async () => {
  await cassandra?.shutdown();
});

/**
 * A viewer's engagement service on the real keyspace, with the events its outbox recorded. Each commit takes 200 ms
 * longer (a slow batch): a concurrent request finds the engagement begun and its rows not yet written.
 */
function serviceFor(viewerId: string) {
  const outbox = new Outbox(cassandra);
  const recorded: string[] = [];
  const commit = outbox.commit.bind(outbox);
  outbox.commit = async (rows, events, options) => {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await commit(rows, events, options);
    recorded.push(...events.map((event) => event.type));
  };
  const ids = new MintedIds('engagement-writes test');
  const deps = {
    engagements: new EngagementRepository(cassandra),
    outbox,
    rateLimits: new RateLimits(new RateLimiter(cassandra), testConfig()),
    recentCounts: new RecentCounts({ none: NO_COUNTS }),
    ids,
  };
  return { service: new EngagementService(deps, { viewerId, clientAddress: null, correlationId: 'writes' }), recorded, deps };
}

describe("one viewer's engagement with one tweet", () => {
  it('is made once and published once when the same request comes twice at once (a double click)', async () => {
    const viewerId = randomUUID();
    const { service, recorded, deps } = serviceFor(viewerId);
    for (const kind of ['like', 'repost'] as const) {
      const tweetId = deps.ids.mint('tweet');
      await deps.engagements.rememberTweet(tweetId, randomUUID());
      await Promise.all([service.engage(kind, tweetId), service.engage(kind, tweetId), service.engage(kind, tweetId)]);
      await service.engage(kind, tweetId);
      await Promise.all([service.undo(kind, tweetId), service.undo(kind, tweetId), service.undo(kind, tweetId)]);
      await service.undo(kind, tweetId);
      expect(await deps.engagements.counts([tweetId])).toEqual(new Map());
    }
    expect(recorded).toEqual(['like.created', 'like.deleted', 'repost.created', 'repost.deleted']);
  });

  it("is begun without reading the pair first when it is the pair's first: two Paxos rounds, not three", async () => {
    const viewerId = randomUUID();
    const { service, recorded, deps } = serviceFor(viewerId);
    const tweetId = deps.ids.mint('tweet');
    await deps.engagements.rememberTweet(tweetId, randomUUID());
    // Lightweight transactions and serial reads the engagement makes, each a Paxos round.
    let paxosRounds = 0;
    const execute = cassandra.execute.bind(cassandra) as (...args: unknown[]) => Promise<unknown>;
    const counting = new Proxy(cassandra, {
      get: (target, property, receiver) =>
        property === 'execute'
          ? (query: string, params?: unknown[], options?: { consistency?: number }) => {
              if (/ IF /.test(query) || options?.consistency === cql.consistencies.localSerial) paxosRounds++;
              return execute(query, params, options);
            }
          : Reflect.get(target, property, receiver),
    });
    deps.engagements = new EngagementRepository(counting);
    await service.engage('like', tweetId);
    expect(paxosRounds).toBe(2);
    // A repeat, and a like again after an unlike, still read first: each finds the pair's row.
    await service.engage('like', tweetId);
    await service.undo('like', tweetId);
    await service.engage('like', tweetId);
    expect(recorded).toEqual(['like.created', 'like.deleted', 'like.created']);
    expect(await deps.engagements.counts([tweetId])).toEqual(new Map([[tweetId, { like: 1, repost: 0 }]]));
  });

  it('is finished by a repeat when the request that began it died, once that is surely so', async () => {
    const viewerId = randomUUID();
    const { service, recorded, deps } = serviceFor(viewerId);
    const [young, old] = [deps.ids.mint('tweet'), deps.ids.mint('tweet')];
    for (const tweetId of [young, old]) await deps.engagements.rememberTweet(tweetId, randomUUID());
    // Begun, rows never written: moments ago (perhaps still being written) and 90 s ago (its request is long gone).
    await deps.engagements.begin('like', viewerId, young);
    await cassandra.execute(
      'INSERT INTO engagements (user_id, kind, tweet_id, engaged_at, active) VALUES (?, ?, ?, now(), true) USING TIMESTAMP ?',
      [viewerId, 'like', old, (Date.now() - 90_000) * 1_000],
      { prepare: true },
    );
    await expect(service.engage('like', young)).rejects.toMatchObject({ name: 'DependencyUnavailableError' });
    await service.engage('like', old);
    expect(recorded).toEqual(['like.created']);
    expect(await deps.engagements.counts([young, old])).toEqual(new Map([[old, { like: 1, repost: 0 }]]));
  });
});
