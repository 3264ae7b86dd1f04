import { readFileSync } from 'node:fs';

import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import type { GraphQLDataSource } from '@apollo/gateway';
import { QueryPlanner } from '@apollo/query-planner';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import type { RequestScope } from '../../platform/identity/request-scope.js';
import type { Logger } from '../../platform/logging.js';
import { SUPERGRAPH_FILE } from '../../platform/manifest.js';
import type { QueryPlanning } from '../../router/src/query-planning.js';
import { FederatedSubscriptions } from '../../router/src/subscriptions.js';

const supergraphSdl = readFileSync(SUPERGRAPH_FILE, 'utf8');
const supergraph = Supergraph.build(supergraphSdl);
const planner = new QueryPlanner(supergraph);
/** The planner on this thread (the router's runs in a worker, with a deadline; neither is under test here). */
const planning = {
  plan: async (source: string) => planner.buildQueryPlan(operationFromDocument(supergraph.apiSchema(), parse(source))),
} as unknown as QueryPlanning;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

const SUBSCRIPTION = parse('subscription { feedItemAdded { id text author { username } } }');
const EVENTS = 20;

/**
 * The router's subscriptions over subgraphs that answer each tweet's text with `textBytes` characters, the feed's
 * events coming from `EVENTS` tweets (the upstream connection is not under test: the feed's events are handed over).
 */
function subscriptionsAnswering(textBytes: number) {
  const tweetFetches: string[] = [];
  const text = 'x'.repeat(textBytes);
  const answering = (entity: (id: string) => Record<string, unknown>): GraphQLDataSource<RequestScope> => ({
    process: async ({ request }) => {
      const entities = (request.variables!.representations as { id: string }[]).map(({ id }) => entity(id));
      return { data: { _entities: entities }, http: { bytes: JSON.stringify(entities).length } as never };
    },
  });
  const subscriptions = new FederatedSubscriptions({
    supergraphSdl,
    planning,
    dataSources: {
      tweets: answering((id) => (tweetFetches.push(id), { text })),
      users: answering(() => ({ username: 'alice' })),
    },
    webSocketUrls: {},
    internalSecret: 'a development secret of enough length for signing',
    logger: silent,
    // A minute: an event resolved again below was dropped for its weight, not its age.
    sharedFetchTtlMs: 60_000,
  });
  async function* feed() {
    for (let n = 0; n < EVENTS; n++)
      yield { data: { feedItemAdded: { __typename: 'Tweet', id: `t${n}`, author: { __typename: 'User', id: 'u1' } } } };
  }
  // A subgraph connection's subscribe(): the feed's events handed to the subscriber, then complete.
  const client = {
    subscribe: (_request: unknown, subscriber: { event(payload: unknown): void; completed(): void }) => {
      void (async () => {
        for await (const event of feed()) subscriber.event(event);
        subscriber.completed();
      })();
      return '1';
    },
    unsubscribe: () => {},
  };
  Object.assign(subscriptions, { connectionFor: () => ({ connection: client, release: () => {} }) });
  /** A subscriber's whole subscription: every event's tweet text. */
  const subscriber = async () => {
    const texts: unknown[] = [];
    const events = await subscriptions.subscribe(SUBSCRIPTION, {}, undefined, {
      viewerId: 'bob',
      clientAddress: null,
      correlationId: 'c',
    });
    for await (const event of events) texts.push((event.data?.feedItemAdded as { text: string }).text);
    return texts;
  };
  return { tweetFetches, subscriber };
}

describe('events resolved once for every subscriber', () => {
  it('share small events: a second subscriber fetches nothing again', async () => {
    const { tweetFetches, subscriber } = subscriptionsAnswering(10);
    expect(await subscriber()).toEqual(Array(EVENTS).fill('x'.repeat(10)));
    expect(await subscriber()).toHaveLength(EVENTS);
    expect(tweetFetches).toHaveLength(EVENTS);
  });

  it('weigh what was fetched for them: events of ~1 MiB are resolved again rather than kept', async () => {
    const { tweetFetches, subscriber } = subscriptionsAnswering(1 << 20);
    expect(await subscriber()).toHaveLength(EVENTS);
    expect(await subscriber()).toHaveLength(EVENTS);
    // Weighed by their keys (operation and event, a hundred characters) alone, 20 MiB of events would have been kept.
    expect(tweetFetches).toHaveLength(2 * EVENTS);
  });
});
