import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, cql } from '../../platform/cassandra/client.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { RateLimiter, RateLimits } from '../../platform/limits/rate-limiter.js';
import { RecentCounts } from '../../platform/limits/recent-counts.js';
import { Outbox } from '../../platform/messaging/outbox.js';
import { type Counts, NO_COUNTS } from '../../subgraphs/engagement/src/model.js';
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

/** The real keyspace, with every statement sent to it counted. */
function countingSession() {
  const counted = { statements: 0 };
  const session = new Proxy(cassandra, {
    get(target, property, receiver) {
      if (property !== 'execute') return Reflect.get(target, property, receiver);
      return (...args: Parameters<CassandraClient['execute']>) => {
        counted.statements++;
        return target.execute(...args);
      };
    },
  });
  return { session, counted };
}

describe('a page of tweets read for a viewer', () => {
  it('costs the engagement keyspace the same two statements whatever the page size', async () => {
    const statementsFor = async (pageSize: number) => {
      const { statements } = await readPage(new RecentCounts({ none: NO_COUNTS }), newTweetIds(pageSize));
      return statements;
    };
    expect([await statementsFor(5), await statementsFor(100)]).toEqual([2, 2]);
  });

  it('costs another viewer of the same tweets within a second only the statement for their own engagements', async () => {
    const recentCounts = new RecentCounts({ none: NO_COUNTS });
    const tweetIds = newTweetIds(20);
    const first = await readPage(recentCounts, tweetIds);
    const second = await readPage(recentCounts, tweetIds);
    expect([first.statements, second.statements]).toEqual([2, 1]);
    expect(second.counts).toEqual(first.counts);
  });
});

const newTweetIds = (count: number) => Array.from({ length: count }, () => cql.TimeUuid.now().toString());

/** A page of the tweets read for a new viewer, as GraphQL resolves it: every field of every tweet in the same tick. */
async function readPage(recentCounts: RecentCounts<Counts>, tweetIds: string[]) {
  const { session, counted } = countingSession();
  const deps = {
    engagements: new EngagementRepository(session),
    outbox: new Outbox(session),
    rateLimits: new RateLimits(new RateLimiter(session), testConfig()),
    recentCounts,
    ids: new MintedIds('engagement-reads test'),
  };
  const service = new EngagementService(deps, { viewerId: randomUUID(), clientAddress: null, correlationId: 'page-cost' });
  const fields = await Promise.all(
    tweetIds.flatMap((id) => [
      service.count('like', id),
      service.count('repost', id),
      service.viewerHas('like', id),
      service.viewerHas('repost', id),
    ]),
  );
  return { statements: counted.statements, counts: fields.filter((field) => typeof field === 'number') };
}
