import { randomUUID } from 'node:crypto';

import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { keyspaceOf } from '../../platform/manifest.js';
import { createEvent } from '../../platform/messaging/events.js';
import { Outbox, OutboxRelay } from '../../platform/messaging/outbox.js';
import { TIMELINE_LENGTH } from '../../subgraphs/feed/src/repositories/trim.js';
import { eventually, feedOf, gql, ok, postTweet, type TestUser, uniqueUsername } from '../support/client.js';
import {
  type Audience,
  cluster,
  convictedAfter,
  percentile,
  restartNode,
  signalNode,
  sleep,
  startAudience,
  steadyLoad,
  wholeFeedOf,
} from '../support/cluster.js';
import { busOn, removeBrokerTopology, testLogger } from '../support/infra.js';
import type { IsolatedNamespace } from '../support/namespace.js';
import { scratchKeyspaceLike } from '../support/scratch-keyspace.js';
import { type Stack, startStack } from '../support/stack.js';

/**
 * A twtr of its own on the three-node Cassandra cluster (RF 3, LOCAL_QUORUM, LOCAL_SERIAL): one node killed, frozen
 * or down while people post, read, follow and sign up.
 */
let audience: Audience;
let namespace: IsolatedNamespace;
let stack: Stack;
let author: TestUser;
let followers: TestUser[];

beforeAll(async () => {
  audience = await startAudience('clc', 50);
  ({ namespace, stack, author, followers } = audience);
}, 300_000);

afterAll(async () => {
  await audience?.stop();
});

/** Posts by the author, feed reads by followers, follows and unfollows by two of them: every request counted. */
function everydayLoad(acknowledged: string[]) {
  let posts = 0;
  const [reader, toggler, target] = [followers[1], followers[2], followers[3]];
  let following = false;
  return steadyLoad({
    post: async () => acknowledged.push(await postTweet(author, `post ${posts++} while a node goes away`, stack.routerUrl)),
    read: () => feedOf(reader, 20, stack.routerUrl),
    follow: async () => {
      const mutation = following ? 'unfollow' : 'follow';
      await ok(
        `mutation ($id: ID!) { ${mutation}(userId: $id) { id } }`,
        { id: target.id },
        { token: toggler.token, url: stack.routerUrl },
      );
      following = !following;
    },
  });
}

/**
 * Whether every acknowledged post a timeline keeps (its newest TIMELINE_LENGTH) is in every follower's timeline, and how
 * many entries came twice.
 */
async function timelinesHold(allAcknowledged: string[]) {
  const acknowledged = allAcknowledged.slice(-TIMELINE_LENGTH);
  let found = 0;
  let duplicated = 0;
  for (const follower of followers) {
    const ids = await wholeFeedOf(follower, stack.routerUrl);
    duplicated += ids.length - new Set(ids).size;
    const present = new Set(ids);
    found += acknowledged.filter((id) => present.has(id)).length;
  }
  return { expected: acknowledged.length * followers.length, found, duplicated };
}

/** Waits until every acknowledged post is in every follower's timeline; what was found then. */
const untilTimelinesHold = (acknowledged: string[]) =>
  eventually(
    async () => {
      const state = await timelinesHold(acknowledged);
      expect(state.found).toBe(state.expected);
      return state;
    },
    { timeoutMs: 120_000, intervalMs: 2_000 },
  );

/** Rows of one follower's timeline as node `address` alone holds them (consistency ONE, no other node asked). */
async function rowsOnNode(address: string, userId: string): Promise<number> {
  const client = new cassandra.Client({
    contactPoints: [address],
    localDataCenter: 'datacenter1',
    keyspace: keyspaceOf('feed', namespace.namespace),
    policies: {
      loadBalancing: new cassandra.policies.loadBalancing.AllowListPolicy(
        new cassandra.policies.loadBalancing.DCAwareRoundRobinPolicy('datacenter1'),
        [`${address}:9042`],
      ),
    },
  });
  try {
    const result = await client.execute('SELECT count(*) AS n FROM home_timeline WHERE user_id = ?', [userId], {
      prepare: true,
      consistency: cassandra.types.consistencies.one,
    });
    return Number(result.first().get('n'));
  } finally {
    await client.shutdown();
  }
}

describe('a Cassandra node killed under load', () => {
  it('refuses nothing, every acknowledged post reaches every timeline once, and the node catches up with no repair run', async () => {
    const acknowledged: string[] = [];
    const load = everydayLoad(acknowledged);
    await sleep(10_000);
    const killedOn = new Date();
    await signalNode('cassandra', 3, 'SIGKILL');
    const killedAt = performance.now();
    await sleep(30_000);
    const convictedSeconds = convictedAfter(1, '127.0.0.4', killedOn);
    const restartSeconds = await restartNode('cassandra', 3);
    await sleep(Math.max(0, 60_000 - 10_000 - (performance.now() - killedAt)));
    const report = await load.stop();

    const settledAt = performance.now();
    const outcome = await untilTimelinesHold(acknowledged);
    const settleSeconds = (performance.now() - settledAt) / 1000;
    // The restarted node missed writes while it was down. Asked alone, it comes to hold a sample timeline's rows with no
    // repair run: by hints from the other two, or by read repair when it is one of the two replicas a quorum read asks
    // (untilTimelinesHold's reads of every timeline, the feed's trims). Which of the two, this does not tell.
    const sample = followers[0];
    const heldAlone = await eventually(
      async () => {
        const rows = await rowsOnNode('127.0.0.4', sample.id);
        expect(rows).toBeGreaterThanOrEqual(Math.min(acknowledged.length + 1, TIMELINE_LENGTH));
        return rows;
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    );
    console.info(
      `cassandra node killed: ${report.requests} requests (${acknowledged.length} posts to ${followers.length} followers; ` +
        `a timeline keeps the newest ${TIMELINE_LENGTH}), ` +
        `${report.refused.length} refused, entries expected ${outcome.expected} found ${outcome.found} ` +
        `duplicated ${outcome.duplicated}, node convicted ${convictedSeconds?.toFixed(1)} s after the kill, node back UN ${restartSeconds.toFixed(1)} s after restart, all timelines ` +
        `complete ${settleSeconds.toFixed(1)} s after the load, restarted node holds ${heldAlone} rows of a sample ` +
        `timeline alone (hints or read repair), p99 ${percentile(report.latenciesMs, 99).toFixed(0)} ms`,
    );
    expect(report.refused).toEqual([]);
    expect(outcome.duplicated).toBe(0);
  }, 400_000);
});

describe('a Cassandra node frozen (SIGSTOP) for 15 s', () => {
  it('leaves reads answering within a second, and writes once the node is convicted or thaws', async () => {
    const acknowledged: string[] = [];
    const before = everydayLoad(acknowledged);
    await sleep(5_000);
    const calm = await before.stop();
    const during = everydayLoad(acknowledged);
    const frozenOn = new Date();
    await signalNode('cassandra', 2, 'SIGSTOP');
    try {
      await sleep(15_000);
    } finally {
      await signalNode('cassandra', 2, 'SIGCONT');
    }
    const convictedSeconds = convictedAfter(1, '127.0.0.3', frozenOn);
    const report = await during.stop();
    const outcome = await untilTimelinesHold(acknowledged);
    const p99 = (name: string) => percentile(report.byAction[name] ?? [], 99);
    const figures = (load: typeof report) =>
      Object.entries(load.byAction)
        .map(([name, ms]) => `${name} ${ms.length} p50 ${percentile(ms, 50).toFixed(0)} p99 ${percentile(ms, 99).toFixed(0)} ms`)
        .join(', ');
    console.info(
      `cassandra node frozen 15 s (convicted after ${convictedSeconds?.toFixed(1) ?? 'never'} s): ` +
        `${report.requests} requests, ${report.refused.length} refused (${figures(report)}; ` +
        `before the freeze: ${figures(calm)}), entries expected ${outcome.expected} found ${outcome.found} ` +
        `duplicated ${outcome.duplicated}`,
    );
    expect(report.refused).toEqual([]);
    expect(outcome.duplicated).toBe(0);
    // A frozen node is not down: nothing avoids it until the others convict it. A read it coordinates goes to a second
    // node after 400 ms.
    expect(p99('read')).toBeLessThan(3_000);
    // Posts and follows commit through the outbox, a logged batch, and with three nodes both batch-log replicas are
    // the coordinator's two peers: each waits until the frozen one is convicted (phi 8: 15 s or more here) or thaws,
    // at most the freeze, one batch-log timeout (2 s) and one back-off (up to 2 s).
    for (const write of ['post', 'follow']) expect(p99(write)).toBeLessThan(20_000);
  }, 300_000);
});

describe('with one Cassandra node down', () => {
  beforeAll(async () => {
    await signalNode('cassandra', 3, 'SIGKILL');
    // Down as the cluster sees it, not only dead: the others have stopped counting on it.
    await eventually(async () => expect(await cluster('nodetool', 'status')).toMatch(/^DN\s+127\.0\.0\.4/m), {
      timeoutMs: 60_000,
      intervalMs: 1_000,
    });
  }, 90_000);
  afterAll(async () => {
    await restartNode('cassandra', 3);
  }, 300_000);

  it('lets exactly one of 20 simultaneous sign-ups of one username win', async () => {
    const username = uniqueUsername('race');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        gql(
          `mutation ($u: String!) { signUp(username: $u, password: "correct horse battery", displayName: "R") { user { id } } }`,
          { u: username },
          { url: stack.routerUrl, clientAddress: `10.9.0.${n + 1}` },
        ),
      ),
    );
    const won = answers.filter((answer) => answer.data?.signUp);
    const codes = answers.flatMap((answer) => (answer.errors ?? []).map((error) => error.extensions?.code));
    console.info(`20 sign-ups of one username, one node down: ${won.length} won, refused with ${[...new Set(codes)]}`);
    expect(won).toHaveLength(1);
    expect(codes.every((code) => code === 'CONFLICT')).toBe(true);
  }, 60_000);

  it('keeps every view of one pair in agreement through a burst of follows and unfollows from two replicas', async () => {
    const second = await startStack(namespace.env);
    try {
      const [a, b] = [followers[10], followers[11]];
      const routers = [stack.routerUrl, second.routerUrl];
      await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          gql(
            `mutation ($id: ID!) { ${n % 3 === 0 ? 'unfollow' : 'follow'}(userId: $id) { id } }`,
            { id: b.id },
            { token: a.token, url: routers[n % 2] },
          ),
        ),
      );
      const views = async () => {
        const data = await ok(
          `query ($a: String!, $b: String!) {
            a: user(username: $a) { followingCount following(first: 100) { edges { node { id } } } }
            b: user(username: $b) { followerCount followers(first: 100) { edges { node { id } } } }
          }`,
          { a: a.username, b: b.username },
          { url: stack.routerUrl },
        );
        const has = (edges: { node: { id: string } }[], id: string) => edges.some((edge) => edge.node.id === id);
        return {
          aFollowsB: has(data.a.following.edges, b.id),
          bFollowedByA: has(data.b.followers.edges, a.id),
          counts: [data.a.followingCount, data.b.followerCount],
        };
      };
      const agreed = await eventually(
        async () => {
          const view = await views();
          expect(view.aFollowsB).toBe(view.bFollowedByA);
          // a follows only the author besides b, and b is followed by nobody else.
          expect(view.counts).toEqual([view.aFollowsB ? 2 : 1, view.bFollowedByA ? 1 : 0]);
          return view;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      console.info(`follow burst with one node down: views agree (${JSON.stringify(agreed)})`);
    } finally {
      await second.stop();
    }
  }, 120_000);

  it('lets two relays racing for the lease publish no event twice, and none out of order', async () => {
    const keyspace = `relay_race_${Date.now()}`;
    const exchange = `twtr.test.relay-race.${randomUUID()}`;
    const queue = `test.relay-race.${randomUUID()}`;
    const scratch = await scratchKeyspaceLike('tweets', keyspace);
    const consumer = await busOn(exchange);
    const buses = await Promise.all([busOn(exchange), busOn(exchange)]);
    const received: string[] = [];
    await consumer.subscribe({ queue, events: ['tweet.created'], handle: async (event) => void received.push(event.id) });
    // Short leases and fast polls: the two meet at every step, and the one that stops hands over within seconds.
    const relayOn = (bus: (typeof buses)[number]) =>
      new OutboxRelay(scratch.cassandra, bus, testLogger(), { pollIntervalMs: 20, leaseSeconds: 2 });
    const relays = [relayOn(buses[0]), relayOn(buses[1])];
    const outbox = new Outbox(scratch.cassandra, () => relays.forEach((relay) => relay.nudge()));
    try {
      relays.forEach((relay) => relay.start());
      const committed: string[] = [];
      let handovers = 0;
      for (let n = 0; n < 100; n++) {
        const event = createEvent(
          'tweet.created',
          { tweetId: `t${n}`, authorId: 'a', text: `race ${n}`, createdAt: new Date().toISOString() },
          { correlationId: `race-${n}` },
        );
        await outbox.commit([], [event]);
        committed.push(event.id);
        // Every 20 events one relay stops and a fresh one joins the race: the lease changes hands mid-stream.
        if (n % 20 === 19) {
          const leaving = handovers++ % 2;
          await relays[leaving].stop();
          relays[leaving] = relayOn(buses[leaving]);
          relays[leaving].start();
        }
      }
      await eventually(async () => expect(new Set(received).size).toBe(committed.length), { timeoutMs: 60_000 });
      // Anything published twice would arrive by now too.
      await sleep(2_000);
      console.info(
        `two relays racing, one node down: ${committed.length} events, ${handovers} hand-overs, ` +
          `${received.length} received, ${received.length - new Set(received).size} twice`,
      );
      expect(received).toEqual(committed);
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await Promise.all([consumer, ...buses].map((bus) => bus.close()));
      await removeBrokerTopology({ queues: [queue], exchange });
      // The keyspace stays, as every cluster test's does (startAudience): a drop here is one more schema change for the
      // node that is down to take on when it restarts, and a drop once wedged a restarted node (47d9721). The cluster
      // is reset before each CI run.
      await scratch.close();
    }
  }, 180_000);
});
