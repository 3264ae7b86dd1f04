import { afterAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../platform/logging.js';
import { readSupergraphSdl } from '../../router/src/gateway.js';
import { QueryPlanning } from '../../router/src/query-planning.js';

/** Aliased feed pages whose authors' tweets' authors are resolved again: small, but slow to plan. */
const slowToPlan = (salt: string) =>
  `query Slow${salt} { ${Array.from(
    { length: 12 },
    (_, index) =>
      `a${index}: feed(first: 1) { edges { node { id text author { username followerCount tweets(first: 1) { edges { node { id text author { id username tweetCount } } } } } } } }`,
  ).join(' ')} }`;

const profile = (name: string) => `query ${name} { user(username: "someone") { id displayName } }`;

describe('query planning off the main thread', () => {
  const planning = new QueryPlanning({
    supergraphSdl: readSupergraphSdl(),
    deadlineMs: 100,
    maxPerClient: 2,
    warmUp: [
      profile('WarmUp'),
      '{ feed(first: 1) { edges { node { text author { tweets(first: 1) { edges { node { id } } } } } } } }',
    ],
    logger: createLogger('silent'),
  });
  afterAll(() => planning.close());

  it('plans an ordinary operation', async () => {
    const plan = await planning.plan(profile('Ordinary'), undefined);
    expect(plan.kind).toBe('QueryPlan');
    expect(JSON.stringify(plan.node)).toContain('"serviceName":"users"');
  });

  it('refuses one that plans past the deadline, remembers it, and goes on planning others', async () => {
    await expect(planning.plan(slowToPlan('A'), undefined)).rejects.toMatchObject({
      extensions: { code: 'QUERY_TOO_COMPLEX' },
    });
    await expect(planning.plan(slowToPlan('A'), undefined)).rejects.toMatchObject({
      extensions: { code: 'QUERY_TOO_COMPLEX' },
    });
    expect((await planning.plan(profile('Afterwards'), undefined)).kind).toBe('QueryPlan');
  });

  it('lets one client have only so many operations waiting, without holding back another', async () => {
    const mine = [1, 2, 3].map((n) =>
      planning.plan(profile(`Mine${n}`), undefined, '203.0.113.9').then(
        () => 'planned',
        (error: { extensions: { code: string } }) => error.extensions.code,
      ),
    );
    const theirs = planning.plan(profile('Theirs'), undefined, '198.51.100.7');
    expect(await Promise.all(mine)).toEqual(['planned', 'planned', 'RATE_LIMITED']);
    expect((await theirs).kind).toBe('QueryPlan');
    // Counts are of operations waiting: once planned, the client may send more.
    expect((await planning.plan(profile('MineAgain'), undefined, '203.0.113.9')).kind).toBe('QueryPlan');
  });

  it('plans a burst of the same new operation once, whoever sends it', async () => {
    const burst = Array.from({ length: 20 }, () => planning.plan(profile('Burst'), undefined, '203.0.113.10'));
    const plans = await Promise.all(burst);
    expect(new Set(plans).size).toBe(1);
  });

  it('takes turns between clients, so one sending slow operations holds another back by one at most', async () => {
    const order: string[] = [];
    const track = (name: string, planned: Promise<unknown>) => planned.then(...[0, 1].map(() => () => order.push(name)));
    const slow = [1, 2].map((n) => track(`slow${n}`, planning.plan(slowToPlan(`Turn${n}`), undefined, '203.0.113.11')));
    const quick = track('quick', planning.plan(profile('Turn'), undefined, '198.51.100.12'));
    await Promise.all([...slow, quick]);
    expect(order).toEqual(['slow1', 'quick', 'slow2']);
  });
});
