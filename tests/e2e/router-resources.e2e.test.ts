import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../platform/logging.js';
import type { RunningServer } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import { codes, gql, type GraphQLResponse, sharedSubgraphUrls } from '../support/client.js';
import { testConfig } from '../support/infra.js';

/**
 * Hostile input, round two: what one client could take from everyone else on the router (its one event loop, its
 * memory). Each test runs a router of its own with the limit under test, in front of the shared subgraphs.
 */

/** Aliased feed pages whose authors' tweets' authors are resolved again: small and cheap, but slow to plan. */
const slowToPlan = (aliases: number, salt: string) =>
  `query Slow${salt} { ${Array.from(
    { length: aliases },
    (_, index) =>
      `a${index}: feed(first: 1) { edges { node { id text author { username followerCount tweets(first: 1) { edges { node { id text author { id username tweetCount } } } } } } } }`,
  ).join(' ')} }`;

async function routerWith(overrides: Partial<ReturnType<typeof testConfig>>): Promise<RunningServer> {
  return startRouter({ ...testConfig(), ...sharedSubgraphUrls(), ...overrides }, createLogger('silent'), 0);
}

describe('query planning', () => {
  let router: RunningServer;
  beforeAll(async () => {
    router = await routerWith({ ROUTER_MAX_PLANNING_MS: 50 });
    await gql(`{ __typename }`, {}, { url: router.url }); // the planner's thread has started
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('refuses an operation that plans too long with QUERY_TOO_COMPLEX, answering others meanwhile', async () => {
    const other = `query Other { __typename }`;
    await gql(other, {}, { url: router.url }); // planned once; its plan is cached from then on
    let heavyAnswered = false;
    const heavy = gql(slowToPlan(6, 'A'), {}, { url: router.url }).finally(() => (heavyAnswered = true));
    // Others keep being answered while it is planned: on the router's own thread they all waited behind it.
    let answeredMeanwhile = 0;
    for (let index = 0; !heavyAnswered && index < 200; index++) {
      const answer = await gql(other, {}, { url: router.url });
      expect(answer.data).toEqual({ __typename: 'Query' });
      if (!heavyAnswered) answeredMeanwhile++;
    }
    expect(codes(await heavy)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(answeredMeanwhile).toBeGreaterThan(0);
  });

  it('refuses the same operation again at once, and plans new ones after a refusal', async () => {
    const first: GraphQLResponse = await gql(slowToPlan(6, 'B'), {}, { url: router.url });
    expect(codes(first)).toEqual(['QUERY_TOO_COMPLEX']);
    const again = await gql(slowToPlan(6, 'B'), {}, { url: router.url });
    expect(again.errors?.[0]?.message).toBe(first.errors?.[0]?.message);
    const fresh = await gql(`query Fresh { user(username: "nobody_here") { id } }`, {}, { url: router.url });
    expect(fresh).toEqual({ data: { user: null } });
  });
});
