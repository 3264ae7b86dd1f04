import '../router/src/no-telemetry.js';

import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';

import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { connectCassandra, cql, executeConcurrent } from '../platform/cassandra/client.js';
import { issueAccessToken } from '../platform/identity/tokens.js';
import { createLogger } from '../platform/logging.js';
import { keyspaceOf } from '../platform/manifest.js';
import { connectEventBus } from '../platform/messaging/bus.js';
import { feedOf, ok, postTweet, signUp as signUpUser, type TestUser } from '../tests/support/client.js';
import { likeByStranger } from '../tests/support/infra.js';
import { scrape, total } from '../tests/support/metrics.js';
import { cpuSecondsOf } from '../tests/support/processes.js';
import { Inspector } from './inspector.js';
import { machine, median, percentile, writeBenchmarks } from './report.js';
import { writeScaling } from './scaling.js';
import { startBenchedSystem, stopOnFailure } from './setup.js';

/**
 * The system under write load (npm run bench:system; part of npm run bench): fan-out, live delivery, memory per idle
 * subscription. Every service runs as its own process, built as the production image runs it (setup.ts); the bench
 * process is the clients and reads Cassandra directly. Bounded in count and time, loopback only. Writes
 * bench/results/system-<timestamp>.json and the system section of BENCHMARKS.md.
 *   --smoke      tiny audiences and counts, no BENCHMARKS.md (npm test runs this)
 *   --only a,b   only these scenarios (fanout1k, fanout9k, isolation, live1, live1k, live10k, idle, feedpage, storm), printed, not
 *                recorded
 *   --fanout-worker  the feed split as in Kubernetes: one process for the main queue, one fan-out worker
 *   --storm-rate n   likes a second in the storm scenario (1,000 by default)
 *
 * "Acknowledged → last timeline row" is the largest WRITETIME of the tweet's rows (the feed's client-side write
 * timestamps, same clock) minus the moment the tweets service accepted the post (the time in its id). The raw figure
 * is the same number of INSERTs into home_timeline through executeConcurrent from this process, timed start to
 * finish, alternating with the posts in the same run.
 */
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const size = (full: number, small: number) => (smoke ? small : full);
const stormRate = args.includes('--storm-rate') ? Number(args[args.indexOf('--storm-rate') + 1]) : 1_000;
const progress = (message: string) => process.stderr.write(`[bench:system] ${message}\n`);

// The router and the feed listen for a debugger (loopback) so the idle-memory scenario can collect their garbage.
const { system, config } = await startBenchedSystem(progress, {
  fanoutWorker: args.includes('--fanout-worker'),
  inspected: ['router', 'feed'],
});
const feedDb = await connectCassandra(config, keyspaceOf('feed', config.TWTR_NAMESPACE));
const stop = async () => {
  await feedDb.shutdown();
  await system.stop();
};
stopOnFailure(stop);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 60_000) => {
  for (const deadline = Date.now() + timeoutMs; !(await check()); await sleep(20))
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
};
const signUp = (prefix: string) => signUpUser(prefix, `Bench ${prefix}`, system.routerUrl);
const post = (author: TestUser, text: string) => postTweet(author, text, system.routerUrl);
/** Followers written straight into the feed's copy of the graph (what follow.created events write). */
const seedFollowers = async (authorId: string, count: number) => {
  const ids = Array.from({ length: count }, () => randomUUID());
  await executeConcurrent(
    feedDb,
    'INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)',
    ids.map((id) => [authorId, id]),
  );
  return ids;
};
const chunksOf = <T>(items: T[], size: number) =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Once every follower's timeline holds the tweet: the latest write time among its rows, in epoch milliseconds. The
 * write times say when, whenever they are read, so a big audience is looked at seldom: every look reads each timeline
 * still waiting, and looking every 50 ms at 9,000 was as many reads as the fan-out had writes, on the same node.
 */
async function lastRowWrittenAt(followerIds: string[], tweetId: string, timeoutMs = 120_000): Promise<number> {
  let waiting = followerIds;
  let latest = 0;
  for (const deadline = Date.now() + timeoutMs; waiting.length > 0; await sleep(waiting.length > 50 ? 500 : 5)) {
    if (Date.now() > deadline) throw new Error(`${waiting.length} timelines never got ${tweetId}`);
    const found = new Set<string>();
    for (const chunk of chunksOf(waiting, 100)) {
      const result = await feedDb.execute(
        'SELECT user_id, WRITETIME(author_id) AS written FROM home_timeline WHERE user_id IN ? AND tweet_id = ?',
        [chunk, tweetId],
      );
      for (const row of result.rows) {
        found.add(row.get('user_id').toString());
        latest = Math.max(latest, Number(row.get('written')) / 1000);
      }
    }
    waiting = waiting.filter((id) => !found.has(id));
  }
  return latest;
}

/** What the database needs for the same rows: `rows` timeline INSERTs through executeConcurrent, in milliseconds. */
async function rawInsertMs(rows: number): Promise<number> {
  const tweetId = cql.TimeUuid.now();
  const authorId = randomUUID();
  const parameters = Array.from({ length: rows }, () => [randomUUID(), tweetId, authorId]);
  const started = performance.now();
  await executeConcurrent(feedDb, 'INSERT INTO home_timeline (user_id, tweet_id, author_id) VALUES (?, ?, ?)', parameters);
  return performance.now() - started;
}

const WARM_UP_POSTS = smoke ? 1 : 3;

/** Fan-out to `followers` (seeded), `posts` times, each post alternating with a raw insert of as many rows. */
async function fanout(followers: number, posts: number) {
  const author = await signUp(`fan${followers}`);
  const followerIds = await seedFollowers(author.id, followers);
  const fanoutMs: number[] = [];
  const rawMs: number[] = [];
  // Not measured: the first posts of a run pay for connections, prepared statements and JIT (in Cassandra too).
  for (let i = 0; i < WARM_UP_POSTS; i++) {
    await lastRowWrittenAt(followerIds, await post(author, `warm-up ${i}`));
    await rawInsertMs(followers);
  }
  for (let i = 0; i < posts; i++) {
    rawMs.push(await rawInsertMs(followers));
    const tweetId = await post(author, `to ${followers} followers, ${i}`);
    // From the moment the tweets service accepted it (the time in its id, this machine's clock, as the write times):
    // the client's own clock reading after the answer lags by however busy this process is, and a small fan-out can
    // finish before the answer is even read.
    const acceptedAt = cql.TimeUuid.fromString(tweetId).getDate().getTime();
    fanoutMs.push((await lastRowWrittenAt(followerIds, tweetId)) - acceptedAt);
    progress(`fan-out to ${followers}: ${fanoutMs.at(-1)!.toFixed(0)} ms (raw ${rawMs.at(-1)!.toFixed(0)} ms)`);
  }
  return { followers, posts, fanoutMs, rawMs, ratio: median(fanoutMs) / median(rawMs) };
}

/** An ordinary author's post → all of its followers' timelines, alone and while a hot author posts every 2 s. */
async function isolation(ordinaryFollowers: number, hotFollowers: number, posts: number) {
  const ordinary = await signUp('ordinary');
  const ordinaryFollowerIds = await seedFollowers(ordinary.id, ordinaryFollowers);
  const hot = await signUp('hot');
  await seedFollowers(hot.id, hotFollowers);
  const measure = async () => {
    const latencies: number[] = [];
    for (let i = 0; i < posts; i++) {
      const sentAt = Date.now();
      const tweetId = await post(ordinary, `ordinary ${i}`);
      latencies.push((await lastRowWrittenAt(ordinaryFollowerIds, tweetId)) - sentAt);
      await sleep(100);
    }
    return latencies;
  };
  const alone = await measure();
  let hotPosting = true;
  const hotPosts = (async () => {
    for (let i = 0; hotPosting; i++) {
      await post(hot, `hot ${i}`);
      await sleep(2_000);
    }
  })();
  const withHot = await measure();
  hotPosting = false;
  await hotPosts;
  const summary = (values: number[]) => ({ p50: percentile(values, 50), p99: percentile(values, 99) });
  return { ordinaryFollowers, hotFollowers, posts, alone: summary(alone), withHot: summary(withHot) };
}

/** Feed pages of 20 (text and author) through the router, one at a time, for a viewer of `authors` authors' posts. */
async function feedPage(authors: number, reads: number) {
  const viewer = await signUp('viewer');
  const posted: string[] = [];
  for (let n = 0; n < authors; n++) {
    const author = await signUp(`paged${n}`);
    await feedDb.execute('INSERT INTO followers_by_user (user_id, follower_id) VALUES (?, ?)', [author.id, viewer.id]);
    for (let i = 0; i < 3; i++) posted.push(await post(author, `page item ${n}.${i}`));
  }
  for (const tweetId of posted) await lastRowWrittenAt([viewer.id], tweetId);
  const latencies: number[] = [];
  for (let i = 0; i < reads; i++) {
    const startedAt = performance.now();
    const items = await feedOf(viewer, 20, system.routerUrl);
    latencies.push(performance.now() - startedAt);
    if (items.length !== Math.min(20, posted.length)) throw new Error(`a page of ${items.length} items`);
  }
  return { reads, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

const metric = async (url: string, name: string) => total(await scrape(url), name);
const liveOnFeed = () => metric(system.subgraphUrls.feed, 'twtr_live_subscriptions');

/** Subscribers whose connections are opened together (see subscribe). */
const CONNECTING_AT_ONCE = 250;

/** `count` viewers following `authorId` (seeded), each with a graphql-ws connection and a feed subscription. */
async function subscribe(authorId: string, count: number, onItem: (viewer: number, at: number) => void) {
  const before = await liveOnFeed();
  const viewerIds = await seedFollowers(authorId, count);
  const clients: Client[] = [];
  // In waves, each connected before the next opens: ten thousand handshakes begun in one tick overflow the router's
  // accept queue, and some are reset (a real client would reconnect; these do not, so the run would wait in vain).
  for (let first = 0; first < viewerIds.length; first += CONNECTING_AT_ONCE) {
    const wave = viewerIds.slice(first, first + CONNECTING_AT_ONCE).map((viewerId, n) => open(viewerId, first + n));
    clients.push(...(await Promise.all(wave)));
  }
  await until(async () => (await liveOnFeed()) >= before + count, `${count} subscriptions`, 120_000);
  return {
    clients,
    close: async () => {
      await Promise.all(clients.map((client) => client.dispose()));
      await until(async () => (await liveOnFeed()) <= before, 'subscriptions to close');
    },
  };

  /** A viewer's client, subscribed, once its connection is acknowledged (or has failed). */
  async function open(viewerId: string, viewer: number): Promise<Client> {
    let connected = () => {};
    const acknowledged = new Promise<void>((resolve) => (connected = resolve));
    const client = createClient({
      url: system.routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${issueAccessToken(viewerId, config.JWT_SECRET, 3600).token}` },
      on: { connected, closed: connected },
    });
    client.subscribe(
      { query: 'subscription { feedItemAdded { id text author { username } } }' },
      {
        next: (event) => {
          if (!(event.data as any)?.feedItemAdded?.text) throw new Error(`incomplete item ${JSON.stringify(event)}`);
          onItem(viewer, performance.now());
        },
        error: (error) => console.error('subscription error', error),
        complete: () => undefined,
      },
    );
    await acknowledged;
    return client;
  }
}

/** Post → frame at every subscriber: `subscribers` viewers, `posts` posts, one at a time. */
async function live(subscribers: number, posts: number) {
  const author = await signUp(`live${subscribers}`);
  let sentAt = 0;
  let received = 0;
  const latencies: number[] = [];
  const connections = await subscribe(author.id, subscribers, (_, at) => {
    latencies.push(at - sentAt);
    received++;
  });
  // Where the time goes: CPU of the router, the feed and the clients (this process) over the measured posts.
  const cpu = () => ({
    router: cpuSecondsOf(system.children.router.pid!),
    feed: cpuSecondsOf(system.children.feed.pid!),
    clients: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
  });
  let cpuBefore = cpu();
  // The first post (not measured) warms the path; every later one is measured.
  for (let i = 0; i <= posts; i++) {
    if (i === 1) {
      latencies.length = 0;
      received = 0;
      cpuBefore = cpu();
    }
    sentAt = performance.now();
    await post(author, `live ${i}`);
    await until(async () => received === subscribers * Math.max(i, 1), `frame ${i} at every subscriber`);
    await sleep(200);
  }
  const cpuAfter = cpu();
  const cpuMsPerFrame = (key: keyof typeof cpuAfter) => (1000 * (cpuAfter[key] - cpuBefore[key])) / Math.max(1, received);
  await connections.close();
  return {
    subscribers,
    posts,
    frames: received,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    cpuMsPerFrame: { router: cpuMsPerFrame('router'), feed: cpuMsPerFrame('feed'), clients: cpuMsPerFrame('clients') },
  };
}

/**
 * Resident memory and heap each idle subscription adds to the router and the feed: resident from their /metrics, heap
 * used right after a full collection (through the inspector), so neither garbage from opening the subscriptions nor
 * from the scenario before counts.
 */
async function idleMemory(subscriptions: number) {
  const author = await signUp('idle');
  const [router, feed] = await Promise.all([
    Inspector.connect(system.inspectPorts.router),
    Inspector.connect(system.inspectPorts.feed),
  ]);
  // Closed however the scenario ends: a service with a debugger attached does not exit until it leaves, so stopping
  // the system would wait for ever.
  try {
    const sample = async () => ({
      router: await metric(system.routerOperatorUrl, 'process_resident_memory_bytes'),
      routerHeap: await router.heapUsedAfterCollection(),
      feed: await metric(system.subgraphUrls.feed, 'process_resident_memory_bytes'),
      feedHeap: await feed.heapUsedAfterCollection(),
    });
    // The least of samples over a few seconds.
    const memory = async () => {
      const samples: Awaited<ReturnType<typeof sample>>[] = [];
      for (let i = 0; i < size(12, 3); i++, await sleep(500)) samples.push(await sample());
      const least = (key: keyof (typeof samples)[number]) => Math.min(...samples.map((one) => one[key]));
      return { router: least('router'), routerHeap: least('routerHeap'), feed: least('feed'), feedHeap: least('feedHeap') };
    };
    const before = await memory();
    // What opening them costs each side (parsing, validating, planning, subscribing upstream), CPU seconds from /metrics.
    const cpu = async () => ({
      router: await metric(system.routerOperatorUrl, 'process_cpu_seconds_total'),
      feed: await metric(system.subgraphUrls.feed, 'process_cpu_seconds_total'),
    });
    const cpuBefore = await cpu();
    const openingAt = performance.now();
    const connections = await subscribe(author.id, subscriptions, () => undefined);
    const openSeconds = (performance.now() - openingAt) / 1000;
    const cpuAfter = await cpu();
    const after = await memory();
    await connections.close();
    const perSubscriptionKiB = (key: keyof typeof before) => (after[key] - before[key]) / subscriptions / 1024;
    return {
      subscriptions,
      routerKiB: perSubscriptionKiB('router'),
      routerHeapKiB: perSubscriptionKiB('routerHeap'),
      feedKiB: perSubscriptionKiB('feed'),
      feedHeapKiB: perSubscriptionKiB('feedHeap'),
      openSeconds,
      routerCpuMsPer1k: ((cpuAfter.router - cpuBefore.router) * 1e6) / subscriptions,
      feedCpuMsPer1k: ((cpuAfter.feed - cpuBefore.feed) * 1e6) / subscriptions,
    };
  } finally {
    router.close();
    feed.close();
  }
}

/** Ordinary users timed side by side in the storm scenario. */
const SAMPLERS = 4;

/**
 * A storm of `likes` likes of one user's tweet, published straight onto the bus as engagement publishes them, `rate`
 * a second (faster than engagement takes likes on this machine), while the liked user reads their first page of
 * notifications (one read at a time) and each of SAMPLERS ordinary users' tweets gets likes from someone new through
 * the router, one at a time: like acknowledged → its notificationAdded frame, before the storm (alone) and during it
 * (until its last like is counted).
 */
async function storm(likes: number, rate: number, samples: number) {
  const likeAsSomeone = (tweetId: string) =>
    ok(
      `mutation ($id: ID!) { likeTweet(tweetId: $id) { id } }`,
      { id: tweetId },
      {
        token: issueAccessToken(randomUUID(), config.JWT_SECRET, 3600).token,
        url: system.routerUrl,
      },
    );
  const star = await signUp('star');
  const starTweet = await post(star, 'popular');
  const unreadOf = async (user: TestUser) =>
    (await ok('{ unreadNotificationCount }', {}, { token: user.token, url: system.routerUrl })).unreadNotificationCount as number;

  /**
   * One ordinary user whose tweet gets likes from newcomers, one at a time, each timed from acknowledged to its
   * notificationAdded frame. Several side by side: a storm lasts about 10 s, and one sampler's 60 or so samples make a
   * p99 that is just their slowest.
   */
  const sampler = async (index: number) => {
    const ordinary = await signUp(`plain${index}`);
    const plainTweet = await post(ordinary, 'ordinary');
    let frameArrived: ((at: number) => void) | undefined;
    const client = createClient({
      url: system.routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${ordinary.token}` },
    });
    client.subscribe(
      { query: 'subscription { notificationAdded { id kind tweet { id } } }' },
      {
        next: () => frameArrived?.(performance.now()),
        error: (error) => console.error('subscription error', error),
        complete: () => undefined,
      },
    );
    const likeToFrame = async () => {
      const frame = new Promise<number>((resolve) => (frameArrived = resolve));
      await likeAsSomeone(plainTweet);
      const ackedAt = performance.now();
      const latency = (await Promise.race([frame, sleep(30_000).then(() => Number.NaN)])) - ackedAt;
      await sleep(20);
      return latency;
    };
    // Warm-ups (not measured) until engagement knows the tweet and the subscription delivers.
    await until(async () => !Number.isNaN(await likeToFrame().catch(() => Number.NaN)), 'the ordinary like path live');
    return { likeToFrame, close: () => client.dispose() };
  };
  const samplers = await Promise.all(Array.from({ length: SAMPLERS }, (_, index) => sampler(index)));
  const alone: number[] = [];
  await Promise.all(
    samplers.map(async ({ likeToFrame }) => {
      for (let i = 0; i < samples / SAMPLERS; i++) alone.push(await likeToFrame());
    }),
  );

  const bus = await connectEventBus(config, createLogger('error'));
  const startedAt = performance.now();
  const publishing = (async () => {
    const batch = Math.max(1, Math.round(rate / 20));
    for (let sent = 0; sent < likes; sent += batch) {
      const tickAt = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(batch, likes - sent) }, () =>
          bus.publish(likeByStranger(starTweet, star.id, 'bench-storm')),
        ),
      );
      await sleep(Math.max(0, 50 - (performance.now() - tickAt)));
    }
    return performance.now();
  })();
  let published: number | undefined;
  void publishing.then((at) => (published = at));
  // The storm lasts until its last like is counted, not only until it is published: work still being applied after
  // that is the storm's too.
  let over = false;
  const during: number[] = [];
  // Those asked for while the storm was still being published, when its ingest shares the machine too.
  const duringPublishing: number[] = [];
  const pageMs: number[] = [];
  const [appliedAt] = await Promise.all([
    (async () => {
      let counted = 0;
      try {
        // A smoke run's few hundred are counted in seconds: one still short after a minute lost some, and says so in time.
        while (published === undefined || performance.now() - published < size(300_000, 60_000)) {
          const readAt = performance.now();
          const page = await ok(
            '{ notifications(first: 20) { edges { node { id kind actor { id } } } } unreadNotificationCount }',
            {},
            { token: star.token, url: system.routerUrl },
          );
          pageMs.push(performance.now() - readAt);
          counted = page.unreadNotificationCount as number;
          if (counted >= likes) return performance.now();
          await sleep(50);
        }
        throw new Error(`timed out waiting for ${likes} notifications counted (${counted} were)`);
      } finally {
        over = true;
      }
    })(),
    ...samplers.map(async ({ likeToFrame }) => {
      while (!over) {
        const whilePublished = published === undefined;
        const latency = await likeToFrame();
        during.push(latency);
        if (whilePublished) duringPublishing.push(latency);
      }
    }),
  ]);
  const publishedAt = await publishing;
  await Promise.all([...samplers.map((each) => each.close()), bus.close()]);
  const summary = (values: number[]) => ({
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    n: values.length,
  });
  return {
    likes,
    rate,
    publishMs: publishedAt - startedAt,
    applyMs: appliedAt - startedAt,
    lagMs: appliedAt - publishedAt,
    recipientPage: summary(pageMs),
    alone: summary(alone),
    during: summary(during),
    duringPublishing: summary(duringPublishing),
    unread: await unreadOf(star),
    samplers: SAMPLERS,
  };
}

const scenarios: Record<string, [label: string, run: () => Promise<unknown>]> = {
  fanout1k: ['fan-out to 1,000 followers (at once)', () => fanout(size(1_000, 50), size(7, 1))],
  fanout9k: ['fan-out to 9,000 followers (the queued path: work items of 1,000)', () => fanout(size(9_000, 2_500), size(5, 1))],
  isolation: ['an ordinary author alone, then beside a hot author', () => isolation(5, size(9_000, 2_500), size(100, 2))],
  live1: ['post → live frame, one subscriber', () => live(1, size(20, 2))],
  live1k: ['post → live frame, 1,000 subscribers', () => live(size(1_000, 20), size(5, 1))],
  live10k: ['post → live frame, 10,000 subscribers on one router and one feed process', () => live(size(10_000, 40), size(5, 1))],
  idle: ['memory per idle subscription', () => idleMemory(size(5_000, 50))],
  feedpage: ['feed page of 20 through the router, one at a time', () => feedPage(10, size(300, 20))],
  storm: [
    "a storm of likes for one user beside an ordinary user's notifications",
    () => storm(size(10_000, 200), stormRate, size(200, 3)),
  ],
};
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined;
const results: Record<string, unknown> = {};
try {
  for (const [name, [label, run]] of Object.entries(scenarios)) {
    if (only && !only.includes(name)) continue;
    progress(label);
    results[name] = await run();
    if (only) progress(JSON.stringify(results[name]));
  }
} finally {
  await stop();
}

const report = {
  at: new Date().toISOString(),
  command: `npm run bench:system${smoke ? ' -- --smoke' : ''}`,
  machine: machine(),
  results,
};
if (only) process.exit(0); // a partial run: its figures were printed above, nothing is recorded
const out = smoke
  ? (process.env.BENCH_OUT ?? 'bench/results/system-smoke.json')
  : `bench/results/system-${report.at.replace(/[:.]/g, '-')}.json`;
mkdirSync('bench/results', { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
progress(`wrote ${out}`);
if (!smoke) {
  writeFileSync('bench/results/latest-system.json', `${JSON.stringify(report, null, 2)}\n`);
  writeBenchmarks();
  writeScaling();
  progress('wrote BENCHMARKS.md');
}
process.exit(0);
