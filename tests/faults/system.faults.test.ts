import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { type CassandraClient, executeConcurrent } from '../../platform/cassandra/client.js';
import { loadConfig } from '../../platform/config.js';
import { issueAccessToken } from '../../platform/identity/tokens.js';
import { keyspaceOf } from '../../platform/manifest.js';
import { codes, eventually, type GraphQLResponse, ok, uniqueClientAddress, uniqueUsername } from '../support/client.js';
import { cassandraFor, deadLettersIn } from '../support/infra.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { startSystemProcesses, type SystemProcesses } from '../support/processes.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A whole twtr of its own (its own keyspaces, queues and exchange: TWTR_NAMESPACE), as separate processes, whose
 * every link to RabbitMQ goes through a proxy the test cuts; the feed process is killed and restarted.
 */
let isolated: IsolatedNamespace;
let namespace: string;
let env: NodeJS.ProcessEnv;
let brokerLink: TcpProxy;
let system: SystemProcesses;
let feedKeyspace: CassandraClient;
let author: { id: string; token: string };

beforeAll(async () => {
  brokerLink = await startTcpProxy(5672);
  isolated = await isolatedNamespace('f', {
    AMQP_URL: `amqp://guest:guest@127.0.0.1:${brokerLink.port}`,
    // Every audience here is fanned out on write, a hundred followers per work item.
    FEED_FANOUT_THRESHOLD: '10000',
    FEED_FANOUT_CHUNK_SIZE: '100',
    RATE_LIMIT_POST_TWEET: '1000/60',
  });
  ({ namespace, env } = isolated);
  system = await startSystemProcesses(env);
  feedKeyspace = await cassandraFor(keyspaceOf('feed', namespace));
  const { signUp } = await ok(
    'mutation ($u: String!) { signUp(username: $u, password: "correct horse battery", displayName: "Fault") { token user { id } } }',
    { u: uniqueUsername('fault') },
    { url: system.routerUrl, clientAddress: uniqueClientAddress() },
  );
  author = { id: signUp.user.id, token: signUp.token };
}, 180_000);

afterAll(async () => {
  await system?.stop();
  await feedKeyspace?.shutdown();
  await brokerLink?.close();
  await isolated?.remove();
}, 60_000);

/** Followers written straight into the feed's copy of the graph (what follow.created events would write). */
async function followers(count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await executeConcurrent(
    feedKeyspace,
    'INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)',
    ids.map((id) => [author.id, id]),
  );
  return ids;
}

/** How many of these tweets each follower's timeline holds (every page of the answer, not just the first). */
async function timelineCounts(followerIds: string[], tweetIds: string[]): Promise<number[]> {
  const counts = new Map(followerIds.map((id) => [id, 0]));
  for (let i = 0; i < followerIds.length; i += 100) {
    const chunk = followerIds.slice(i, i + 100);
    const result = await feedKeyspace.execute(
      'SELECT user_id FROM home_timeline WHERE user_id IN ? AND tweet_id IN ?',
      [chunk, tweetIds],
      {
        prepare: true,
        fetchSize: 5_000,
      },
    );
    for await (const row of result) {
      const id = row.get('user_id').toString();
      counts.set(id, counts.get(id)! + 1);
    }
  }
  return followerIds.map((id) => counts.get(id)!);
}

/** Dead letters of the feed's queues in this system. */
const deadLetters = () => deadLettersIn(['feed', 'feed.fanout', 'feed.engagements'].map((queue) => `${namespace}${queue}`));

const post = async (text: string): Promise<string> =>
  (await ok('mutation ($t: String!) { postTweet(text: $t) { id } }', { t: text }, { url: system.routerUrl, token: author.token }))
    .postTweet.id;

describe('a whole system under faults', () => {
  it('puts every acknowledged post in every follower’s timeline exactly once when the broker link drops for 10 s mid-burst', async () => {
    const audience = await followers(50);
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) posted.push(await post(`before the cut ${i}`));
    brokerLink.cut();
    const cutAt = performance.now();
    // A steady stream of posts, each acknowledged while no service can reach the broker.
    while (performance.now() - cutAt < 10_000) {
      posted.push(await post(`during the cut ${posted.length}`));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const restoredAt = performance.now();
    brokerLink.restore();
    await eventually(async () => expect(await timelineCounts(audience, posted)).toEqual(audience.map(() => posted.length)), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const seconds = (performance.now() - restoredAt) / 1000;
    // Through the API too: one follower's first page shows the newest posts, each once.
    const reader = issueAccessToken(audience[0], loadConfig(env).JWT_SECRET, 600).token;
    const { feed } = await ok('{ feed(first: 100) { edges { node { id } } } }', {}, { url: system.routerUrl, token: reader });
    const shown = feed.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(new Set(shown).size).toBe(shown.length);
    expect(new Set(shown)).toEqual(new Set(posted.slice(-100)));
    const dead = await deadLetters();
    console.info(
      `broker cut: ${posted.length} posts acknowledged (${posted.length - 5} during the 10 s cut) to ${audience.length} followers; ` +
        `${audience.length * posted.length} timeline entries found ${seconds.toFixed(1)} s after the link came back, 0 duplicated, ${dead} dead-lettered`,
    );
    expect(dead).toBe(0);
  }, 120_000);

  it('completes a fan-out to 2,000 followers when the feed process is killed in the middle of it and restarted', async () => {
    const audience = await followers(2_000);
    const tweetId = await post('to two thousand');
    // Kill it as soon as some timelines have the tweet and others do not yet.
    await eventually(
      async () => expect((await timelineCounts(audience.slice(0, 200), [tweetId])).some((n) => n === 1)).toBe(true),
      {
        timeoutMs: 30_000,
        intervalMs: 20,
      },
    );
    await system.kill('feed');
    const reached = (await timelineCounts(audience, [tweetId])).filter((n) => n === 1).length;
    const restartedAt = performance.now();
    await system.restart('feed');
    await eventually(async () => expect((await timelineCounts(audience, [tweetId])).every((n) => n === 1)).toBe(true), {
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    const dead = await deadLetters();
    console.info(
      `feed killed mid-fan-out: ${reached} of ${audience.length} timelines had the tweet when it died; all ${audience.length} ` +
        `${((performance.now() - restartedAt) / 1000).toFixed(1)} s after the restart; ${dead} dead-lettered`,
    );
    expect(dead).toBe(0);
  }, 120_000);

  it('stops a service on SIGTERM only after the request in flight is answered, and closes websockets with a reason', async () => {
    // A client whose wrong passwords have piled up is answered after a delay (the log-in slow-down): a request in flight.
    const victim = uniqueUsername('term');
    await ok(
      'mutation ($u: String!) { signUp(username: $u, password: "correct horse battery", displayName: "T") { token } }',
      { u: victim },
      {
        url: system.routerUrl,
        clientAddress: uniqueClientAddress(),
      },
    );
    const guesser = uniqueClientAddress();
    const guess = () =>
      fetch(system.routerUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': guesser },
        body: JSON.stringify({
          query: 'mutation ($u: String!) { logIn(username: $u, password: "wrong guess") { token } }',
          variables: { u: victim },
        }),
      });
    for (let i = 0; i < 4; i++) await guess();
    const inFlight = guess();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exitCode = await system.kill('users', 'SIGTERM');
    const answer = await inFlight;
    expect([exitCode, answer.status]).toEqual([0, 200]);
    expect(codes((await answer.json()) as GraphQLResponse)).toEqual(['UNAUTHENTICATED']);
    await system.restart('users');

    const socket = new WebSocket(system.routerUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${author.token}` } }));
    await new Promise((resolve) => socket.once('message', resolve));
    const closed = new Promise<[number, string]>((resolve) =>
      socket.once('close', (code, reason) => resolve([code, String(reason)])),
    );
    await system.kill('router', 'SIGTERM');
    expect(await closed).toEqual([1001, 'Going away']);
    await system.restart('router');
  }, 60_000);
});
