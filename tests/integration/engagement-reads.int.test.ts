import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, cql } from '../../platform/cassandra/client.js';
import { RateLimiter, RateLimits } from '../../platform/limits/rate-limiter.js';
import { Outbox } from '../../platform/messaging/outbox.js';
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
    const viewerId = randomUUID();
    const statementsFor = async (pageSize: number) => {
      const { session, counted } = countingSession();
      const engagements = new EngagementRepository(session);
      const deps = {
        engagements,
        outbox: new Outbox(session),
        rateLimits: new RateLimits(new RateLimiter(session), testConfig()),
      };
      const service = new EngagementService(deps, { viewerId, clientAddress: null, correlationId: 'page-cost' });
      const tweetIds = Array.from({ length: pageSize }, () => cql.TimeUuid.now().toString());
      // As GraphQL resolves a page: every field of every tweet asked for in the same tick.
      await Promise.all(
        tweetIds.flatMap((id) => [
          service.count('like', id),
          service.count('repost', id),
          service.viewerHas('like', id),
          service.viewerHas('repost', id),
        ]),
      );
      return counted.statements;
    };
    expect([await statementsFor(5), await statementsFor(100)]).toEqual([2, 2]);
  });
});
