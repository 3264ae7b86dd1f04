import '../router/src/no-telemetry.js';

import { randomUUID } from 'node:crypto';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { connectCassandra } from '../platform/cassandra/client.js';
import { issueAccessToken } from '../platform/identity/tokens.js';
import { createLogger } from '../platform/logging.js';
import { startRouter } from '../router/src/server.js';
import { ok } from '../tests/support/client.js';
import { startStack } from '../tests/support/stack.js';
import { migrateAll } from './migrate.js';

/**
 * npm run bench — bounded in count and time, loopback only. Prints medians; run it twice before quoting a figure.
 *   1. feed reads through the router: a 20-item page with text and author (3 subgraphs per request)
 *   2. fan-out on write: postTweet acknowledged -> the tweet is in all 1,000 followers' timelines
 *   3. live feed: 1,000 graphql-ws subscribers on one router, each receiving every tweet of one author with its text
 *      (tweets subgraph) and author (users subgraph): events delivered per second
 *   4. hostile input: a 900 KB postTweet refused, and an ordinary lookup on the same subgraph sent alongside it
 */
process.env.LOG_LEVEL ??= 'error';
await migrateAll();
const stack = await startStack();
const feedCassandra = await connectCassandra(stack.config, 'feed');

const gql = (query: string, variables: Record<string, unknown> = {}, token?: string) =>
  ok(query, variables, { url: stack.routerUrl, token });

const signUp = async (prefix: string) => {
  const username = `${prefix.slice(0, 6)}_${randomUUID().slice(0, 8)}`;
  const { signUp } = await gql(
    `mutation ($u: String!) { signUp(username: $u, password: "bench password", displayName: "Bench") { token user { id } } }`,
    { u: username },
  );
  return { id: signUp.user.id as string, token: signUp.token as string };
};

const until = async (check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

// 1. Feed reads.
const reader = await signUp('reader');
const authors = await Promise.all([1, 2, 3, 4, 5].map((n) => signUp(`author${n}`)));
for (const author of authors) {
  await until(async () => {
    try {
      await gql(`mutation ($id: ID!) { follow(userId: $id) { id } }`, { id: author.id }, reader.token);
      return true;
    } catch {
      return false; // follows has not seen user.created yet
    }
  });
}
for (let i = 0; i < 20; i++) {
  const author = authors[i % authors.length];
  await gql(`mutation ($t: String!) { postTweet(text: $t) { id } }`, { t: `bench tweet ${i}` }, author.token);
}
const FEED = `{ feed(first: 20) { edges { node { id text createdAt author { username displayName } } } } }`;
await until(async () => (await gql(FEED, {}, reader.token)).feed.edges.length === 20);

const READS = 300;
for (let i = 0; i < 30; i++) await gql(FEED, {}, reader.token); // warm-up
const latencies: number[] = [];
for (let i = 0; i < READS; i++) {
  const started = performance.now();
  await gql(FEED, {}, reader.token);
  latencies.push(performance.now() - started);
}
const CONCURRENCY = 8;
const concurrentStarted = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (let i = 0; i < READS / CONCURRENCY; i++) await gql(FEED, {}, reader.token);
  }),
);
const concurrentSeconds = (performance.now() - concurrentStarted) / 1000;
console.log(
  `feed page (20 items, 3 subgraphs), ${READS} sequential reads: median ${ms(percentile(latencies, 50))}, p95 ${ms(percentile(latencies, 95))}`,
);
console.log(`feed page, ${CONCURRENCY} concurrent clients: ${(READS / concurrentSeconds).toFixed(0)} requests/s`);

// 2. Fan-out to 1,000 followers. The followers are written straight into the feed's own copy of the graph
// (what follow.created events would write), so the run does not spend minutes signing up 1,000 accounts.
const FOLLOWERS = 1000;
const POSTS = 5;
const author = await signUp('celeb');
const followerIds = Array.from({ length: FOLLOWERS }, () => randomUUID());
await Promise.all(
  followerIds.map((followerId) =>
    feedCassandra.execute('INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)', [author.id, followerId]),
  ),
);
const chunks = Array.from({ length: FOLLOWERS / 100 }, (_, i) => followerIds.slice(i * 100, (i + 1) * 100));
const delivered = async (tweetId: string) => {
  const counts = await Promise.all(
    chunks.map(async (chunk) => {
      const result = await feedCassandra.execute('SELECT user_id FROM home_timeline WHERE user_id IN ? AND tweet_id = ?', [
        chunk,
        tweetId,
      ]);
      return result.rowLength;
    }),
  );
  return counts.reduce((a, b) => a + b, 0) === FOLLOWERS;
};
const fanoutTimes: number[] = [];
for (let i = 0; i < POSTS; i++) {
  const { postTweet } = await gql(`mutation { postTweet(text: "to everyone") { id } }`, {}, author.token);
  const acknowledged = performance.now();
  await until(() => delivered(postTweet.id));
  fanoutTimes.push(performance.now() - acknowledged);
}
console.log(
  `fan-out to ${FOLLOWERS} followers, ${POSTS} posts: median ${ms(percentile(fanoutTimes, 50))} from acknowledgement to the last timeline (max ${ms(Math.max(...fanoutTimes))})`,
);

// 3. Live feed. Subscribers are 1,000 viewers with tokens of their own who follow the author (rows in the feed's
// copy of the graph, as above); each opens a graphql-ws connection to a router. Measured twice in this run, side by
// side: the router as configured (viewer-independent entity fetches shared between subscribers of one event) and a
// second router with sharing turned off (ROUTER_SHARED_FETCH_TTL_MS=0).
const SUBSCRIBERS = 1000;
const LIVE_POSTS = 5;
const viewers = Array.from({ length: SUBSCRIBERS }, () => randomUUID());
await Promise.all(
  viewers.map((viewerId) =>
    feedCassandra.execute('INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)', [author.id, viewerId]),
  ),
);
const feedHealthUrl = stack.subgraphUrls.feed.replace(/graphql$/, 'health');
const liveSubscriptions = async () =>
  ((await (await fetch(feedHealthUrl)).json()) as { liveSubscriptions: number }).liveSubscriptions;

async function liveRun(routerUrl: string): Promise<number> {
  const baseline = await liveSubscriptions();
  let received = 0;
  let allReceived: () => void = () => undefined;
  const everyoneHasAll = new Promise<void>((resolve) => (allReceived = resolve));
  const clients = viewers.map((viewerId) => {
    const client = createClient({
      url: routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${issueAccessToken(viewerId, stack.config.JWT_SECRET, 600).token}` },
    });
    client.subscribe(
      { query: 'subscription { feedItemAdded { id text author { username } } }' },
      {
        next: (event) => {
          if (!(event.data as any)?.feedItemAdded?.text) throw new Error(`incomplete event ${JSON.stringify(event)}`);
          if (++received === SUBSCRIBERS * LIVE_POSTS) allReceived();
        },
        error: (error) => console.error('subscription error', error),
        complete: () => undefined,
      },
    );
    return client;
  });
  await until(async () => (await liveSubscriptions()) >= baseline + SUBSCRIBERS, 60_000);
  const started = performance.now();
  for (let i = 0; i < LIVE_POSTS; i++) await gql(`mutation { postTweet(text: "live ${i}") { id } }`, {}, author.token);
  await Promise.race([
    everyoneHasAll,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`only ${received} events arrived`)), 120_000)),
  ]);
  const eventsPerSecond = received / ((performance.now() - started) / 1000);
  await Promise.all(clients.map((client) => client.dispose()));
  await until(async () => (await liveSubscriptions()) <= baseline, 30_000);
  return eventsPerSecond;
}

const unsharedRouter = await startRouter({ ...stack.config, ROUTER_SHARED_FETCH_TTL_MS: 0 }, createLogger('error'), 0);
const shared = await liveRun(stack.routerUrl);
const unshared = await liveRun(unsharedRouter.url);
await unsharedRouter.stop();
console.log(
  `live feed, ${SUBSCRIBERS} subscribers on one router x ${LIVE_POSTS} posts (text from tweets, author from users): ` +
    `${shared.toFixed(0)} events/s with shared entity fetches, ${unshared.toFixed(0)} events/s without (${(shared / unshared).toFixed(1)}x)`,
);

// 4. Hostile input: a 900 KB tweet is refused without counting its characters, and does not hold up others.
const HOSTILE_ROUNDS = 20;
const rawPost = (text: string) =>
  fetch(stack.routerUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${author.token}` },
    body: JSON.stringify({ query: 'mutation ($t: String!) { postTweet(text: $t) { id } }', variables: { t: text } }),
  }).then((response) => response.json() as Promise<{ errors?: { extensions?: { code?: string } }[] }>);
const timedMs = async (work: () => Promise<unknown>) => {
  const started = performance.now();
  await work();
  return performance.now() - started;
};
const lookup = () => gql(`query ($id: ID!) { tweet(id: $id) { id } }`, { id: '5f0e1c40-0000-1000-8000-000000000000' });
const hugeText = 'x'.repeat(900_000);
const refusals: number[] = [];
const lookupsAlongside: number[] = [];
const lookupsAlone: number[] = [];
for (let i = 0; i < HOSTILE_ROUNDS; i++) {
  lookupsAlone.push(await timedMs(lookup));
  const [refusal, alongside] = await Promise.all([
    timedMs(async () => {
      const answer = await rawPost(hugeText);
      if (answer.errors?.[0]?.extensions?.code !== 'BAD_USER_INPUT')
        throw new Error(`not refused: ${JSON.stringify(answer).slice(0, 200)}`);
    }),
    timedMs(lookup),
  ]);
  refusals.push(refusal);
  lookupsAlongside.push(alongside);
}
console.log(
  `hostile input, ${HOSTILE_ROUNDS} rounds: a 900 KB postTweet refused (BAD_USER_INPUT) in median ${ms(percentile(refusals, 50))} ` +
    `(max ${ms(Math.max(...refusals))}); a tweet lookup sent alongside it median ${ms(percentile(lookupsAlongside, 50))}, ` +
    `alone ${ms(percentile(lookupsAlone, 50))}`,
);

await feedCassandra.shutdown();
await stack.stop();
process.exit(0);
