import '../router/src/no-telemetry.js';

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

import autocannon from 'autocannon';

import { REQUEST_ASSERTION_HEADER, signRequestAssertion } from '../platform/identity/tokens.js';
import { SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { follow, ok, postTweet, signUp as signUpUser, type TestUser } from '../tests/support/client.js';
import { cpuSecondsOf, freePort, stopChild } from '../tests/support/processes.js';
import { BARE_PROXY, DIRECT, machine, RUST_PLANNER, type ScenarioResult, writeBenchmarks } from './report.js';
import { writeScaling } from './scaling.js';
import { buildCheckout, localCassandraPid, startBenchedSystem, stopOnFailure } from './setup.js';

/**
 * The router against Hive Gateway (npm run bench:router; part of npm run bench). Subgraphs, twtr's router and Hive
 * Gateway each run as their own process on loopback; autocannon drives one target at a time, the targets alternating
 * round by round, each round bounded in time. Writes bench/results/<timestamp>.json and BENCHMARKS.md.
 *   --seconds N   length of each round (default 8)      --rounds N   rounds per target (default 3)
 *   --smoke       2-second rounds, 1 round, no BENCHMARKS.md (npm test runs this)
 *   --only TEXT   only the scenarios whose name holds TEXT (no BENCHMARKS.md): e.g. --only "feed page"
 *   --baseline D  also run the router of another checkout D (a git worktree of an earlier commit, its node_modules
 *                 linked) against the same subgraphs, as target "twtr before": before/after in one run
 */
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const smoke = args.includes('--smoke');
const seconds = smoke ? 2 : option('--seconds', 8);
const rounds = smoke ? 1 : option('--rounds', 3);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const progress = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const baselineDir = args.includes('--baseline') ? args[args.indexOf('--baseline') + 1] : undefined;
// Built as the production image builds it, as the system under test is (setup.ts); before anything starts, so a build
// that fails leaves nothing running.
if (baselineDir) buildCheckout(baselineDir);
const { env, system, config } = await startBenchedSystem(progress);

/** Hive Gateway, as a process of its own; `--hive-router-runtime` swaps its planner and executor for the Rust ones. */
async function startHive(...flags: string[]) {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      './bench/hive/polyfill.mjs',
      'bench/node_modules/@graphql-hive/gateway/dist/bin.js',
      'supergraph',
      'schema/supergraph.graphql',
      ...flags,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--fork',
      '1',
      '--config-path',
      'bench/hive/gateway.config.ts',
    ],
    {
      env: { ...env, ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]])) },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  return { child, url: `http://127.0.0.1:${port}/graphql` };
}
progress('starting Hive Gateway, with its JavaScript planner and with the Rust one');
const hive = await startHive();
const hiveRust = await startHive('--hive-router-runtime');

// Called directly, the users subgraph needs what the router would send: an assertion for it (signed once here), as does
// the bare proxy in front of it (bench/bare-proxy.mjs): node:http in and out, nothing between.
const directAssertion = signRequestAssertion(
  { viewerId: null, clientAddress: '127.0.0.1' },
  config.INTERNAL_IDENTITY_SECRET,
  'users',
  3600,
);
const bareProxyPort = await freePort();
const bareProxy: ChildProcess = spawn(process.execPath, ['bench/bare-proxy.mjs'], {
  env: {
    PORT: String(bareProxyPort),
    SUBGRAPH_URL: system.subgraphUrls.users,
    ASSERTION_HEADER: REQUEST_ASSERTION_HEADER,
    ASSERTION: directAssertion,
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const bareProxyUrl = `http://127.0.0.1:${bareProxyPort}/graphql`;

const baselinePort = await freePort();
const baseline: ChildProcess | undefined = baselineDir
  ? spawn(process.execPath, ['dist/router/src/index.js'], {
      cwd: baselineDir,
      env: {
        ...env,
        ROUTER_PORT: String(baselinePort),
        ROUTER_OPERATOR_PORT: String(await freePort()),
        ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]])),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    })
  : undefined;
const baselineUrl = `http://127.0.0.1:${baselinePort}/graphql`;

// Whatever happens, the processes started here stop with the bench. The gateways first: requests still in flight in
// them would otherwise fail, noisily, against stopped subgraphs.
const stopAll = async () => {
  await Promise.all([hive.child, hiveRust.child, bareProxy, baseline].map(stopChild));
  await system.stop();
};
stopOnFailure(stopAll);

const post = (url: string, query: string, variables: Record<string, unknown> = {}, token?: string) =>
  ok(query, variables, { url, token });
const until = async (check: () => Promise<boolean>, timeoutMs = 60_000) => {
  for (const deadline = Date.now() + timeoutMs; !(await check().catch(() => false));) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

// Seed: one profile (an author with followers and 20 tweets), and 64 viewers, each following 5 of 10 authors.
progress('seeding users, follows and tweets');
const signUp = (prefix: string) => signUpUser(prefix, `Bench ${prefix}`, system.routerUrl);
const tweet = (author: TestUser, text: string) => postTweet(author, text, system.routerUrl);

const authors = await Promise.all(Array.from({ length: 10 }, (_, index) => signUp(`a${index}`)));
const viewers = await Promise.all(Array.from({ length: 64 }, (_, index) => signUp(`v${index}`)));
// Viewers side by side (each one's follows in turn); each round of tweets by all authors at once, rounds in order.
await Promise.all(
  viewers.map(async (viewer, index) => {
    for (let k = 0; k < 5; k++) await follow(viewer, authors[(index + k) % authors.length], system.routerUrl);
  }),
);
const seeded: string[] = [];
for (let round = 0; round < 4; round++)
  seeded.push(...(await Promise.all(authors.map((author) => tweet(author, `bench tweet ${round} by an author`)))));
// Some of them liked, so the engaged feed page counts real rows (one like each in a smoke run, which only checks it works).
const likesPerViewer = smoke ? 1 : 5;
for (const [index, viewer] of viewers.entries())
  await Promise.all(
    Array.from({ length: likesPerViewer }, (_, k) =>
      post(
        system.routerUrl,
        `mutation ($id: ID!) { likeTweet(tweetId: $id) { id } }`,
        { id: seeded[(index * 3 + k) % seeded.length] },
        viewer.token,
      ),
    ),
  );
const profile = authors[0];
for (let i = 0; i < 16; i++) await tweet(profile, `profile tweet ${i}`);

const PROFILE = `query Profile($u: String!) { user(username: $u) { id username displayName followerCount followingCount
  tweets(first: 20) { edges { node { id text createdAt author { id username displayName } } } } } }`;
const ONE_SUBGRAPH = `query OneSubgraph($u: String!) { user(username: $u) { id username displayName } }`;
const FEED = `query Feed { feed(first: 20) { edges { node { id text createdAt author { username displayName } } } } }`;
await until(async () => (await post(system.routerUrl, FEED, {}, viewers.at(-1)!.token)).feed.edges.length === 20);
for (const { url } of [hive, hiveRust, { url: bareProxyUrl }])
  await until(async () => Boolean((await post(url, ONE_SUBGRAPH, { u: profile.username }))?.user));
if (baseline) await until(async () => Boolean((await post(baselineUrl, ONE_SUBGRAPH, { u: profile.username }))?.user));

interface Scenario {
  name: string;
  connections: number;
  body: string;
  /** Bodies asked in turn, one per request, instead of body: distinct requests that no in-flight sharing can merge. */
  bodies?: string[];
  /** One token per connection (each connection a different viewer), or none. */
  tokens?: string[];
  /** Requests per second across all connections (an open loop), instead of as fast as answers come back. */
  rate?: number;
  /** Why the answer to the viewer of tokens[index] is not that viewer's, if it is not. */
  wrongAnswer?: (data: any, index: number) => string | undefined;
  /** Where each round goes; a target may ask its own query (another page, measured side by side with the rest). */
  targets: Record<string, { url: string; pid: number; headers?: Record<string, string>; body?: string }>;
}
const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
const usersDirect = {
  url: system.subgraphUrls.users,
  pid: system.children.users.pid!,
  headers: { [REQUEST_ASSERTION_HEADER]: directAssertion },
};
const usersBehindBareProxy = { url: bareProxyUrl, pid: bareProxy.pid! };
const routers = (): Scenario['targets'] => ({
  twtr: { url: system.routerUrl, pid: system.children.router.pid! },
  ...(baseline ? { 'twtr before': { url: baselineUrl, pid: baseline.pid! } } : {}),
  hive: { url: hive.url, pid: hive.child.pid! },
  [RUST_PLANNER]: { url: hiveRust.url, pid: hiveRust.child.pid! },
});
const feedPage: Scenario = {
  name: 'feed page (20 items, text + author), 64 connections each a different viewer',
  connections: 64,
  body: body(FEED),
  tokens: viewers.map((viewer) => viewer.token),
  wrongAnswer: (data, index) => {
    const followed = new Set(Array.from({ length: 5 }, (_, k) => authors[(index + k) % authors.length].username));
    const strangers = data.feed.edges.filter((edge: any) => !followed.has(edge.node.author.username));
    return strangers.length ? `viewer ${index}'s feed holds ${strangers.length} tweets of authors they do not follow` : undefined;
  },
  targets: routers(),
};
const scenarios: Scenario[] = [
  {
    name: 'profile query (users → follows → tweets → users), 32 connections',
    connections: 32,
    body: body(PROFILE, { u: profile.username }),
    targets: routers(),
  },
  {
    name: 'one-subgraph query (user by username), 32 connections',
    connections: 32,
    body: body(ONE_SUBGRAPH, { u: profile.username }),
    targets: { ...routers(), [BARE_PROXY]: usersBehindBareProxy, [DIRECT]: usersDirect },
  },
  {
    name: 'one-subgraph query, 32 connections, each request the next of 74 usernames',
    connections: 32,
    body: body(ONE_SUBGRAPH, { u: profile.username }),
    bodies: [...authors, ...viewers].map((user) => body(ONE_SUBGRAPH, { u: user.username })),
    targets: { ...routers(), [BARE_PROXY]: usersBehindBareProxy, [DIRECT]: usersDirect },
  },
  feedPage,
];
// The same page with what a client shows beside each tweet: counts and the viewer's own like (from the feed's copy of
// likes and reposts, in the feed's own fetch), and whose repost put it there. A target of the plain page's scenario, so
// the two pages alternate round by round on the same machine: its cost beside the plain page.
const FEED_ENGAGED = `query Feed { feed(first: 20) { edges { node { id text createdAt author { username displayName }
  likeCount repostCount viewerHasLiked } repostedBy { username } } } }`;
const engaged = { ...feedPage.targets.twtr, body: body(FEED_ENGAGED) };
feedPage.targets = { ...feedPage.targets, 'twtr, page with likeCount, repostCount, viewerHasLiked, repostedBy': engaged };
// The same 64 viewers each reading their feed about once a second: latency under an ordinary load, not at saturation.
// Eight connections, each request as the next viewer: autocannon paces each connection on its own timer, all started
// together, so 64 connections at 1 request/s would arrive as one burst of 64 every second.
scenarios.push({
  ...feedPage,
  name: 'feed page (20 items, text + author), 64 viewers each reading about once a second (64 requests/s over 8 connections)',
  connections: 8,
  rate: 64,
  targets: routers(),
});

async function load(scenario: Scenario, target: Scenario['targets'][string], duration = seconds) {
  let nextToken = 0;
  let nextBody = 0;
  let graphqlErrors = 0;
  let firstError: string | undefined;
  const cpuBefore = cpuSecondsOf(target.pid);
  const subgraphCpu = () => SUBGRAPH_NAMES.reduce((sum, name) => sum + cpuSecondsOf(system.children[name].pid!), 0);
  const subgraphCpuBefore = subgraphCpu();
  const cassandra = localCassandraPid();
  const cassandraCpuBefore = cassandra && cpuSecondsOf(cassandra);
  const result = await autocannon({
    url: target.url,
    method: 'POST',
    connections: scenario.connections,
    ...(scenario.rate ? { overallRate: scenario.rate } : {}),
    duration,
    headers: { 'content-type': 'application/json', ...target.headers },
    requests: [
      {
        method: 'POST',
        body: target.body ?? scenario.body,
        // A 200 can still carry errors (a failed subgraph fetch): counted as errors, so no target is credited for
        // answers that skipped work.
        onResponse: (status: number, body: string) => {
          if (!body.includes('"errors"')) return;
          graphqlErrors++;
          firstError ??= `${status} ${body.slice(0, 300)}`;
        },
        setupRequest: (given: any, context: any) => {
          const request = scenario.bodies ? { ...given, body: scenario.bodies[nextBody++ % scenario.bodies.length] } : given;
          if (!scenario.tokens) return request;
          // A viewer per connection; with fewer connections than viewers (open loop), a viewer per request.
          const token =
            scenario.connections < scenario.tokens.length
              ? scenario.tokens[nextToken++ % scenario.tokens.length]
              : (context.token ??= scenario.tokens[nextToken++ % scenario.tokens.length]);
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  });
  const cpuSeconds = cpuSecondsOf(target.pid) - cpuBefore;
  const subgraphCpuSeconds = subgraphCpu() - subgraphCpuBefore;
  const cassandraCpuSeconds =
    cassandra && cassandraCpuBefore !== undefined ? cpuSecondsOf(cassandra) - cassandraCpuBefore : undefined;
  return {
    requestsPerSecond: result.requests.average,
    // The target's own CPU per request: what a core of it serves, whatever else shares the machine.
    cpuMsPerRequest: (1000 * cpuSeconds) / Math.max(1, result.requests.total),
    // What each client request cost the four subgraphs together (for the direct target, the users subgraph is the target).
    subgraphCpuMsPerRequest: (1000 * subgraphCpuSeconds) / Math.max(1, result.requests.total),
    ...(cassandraCpuSeconds !== undefined && {
      cassandraCpuMsPerRequest: (1000 * cassandraCpuSeconds) / Math.max(1, result.requests.total),
    }),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx + graphqlErrors,
    // What went wrong, where anything did: a count alone says nothing to whoever reads a failed smoke run.
    ...(result.errors + result.timeouts + result.non2xx + graphqlErrors
      ? { firstError: firstError ?? `${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx` }
      : {}),
  };
}

/**
 * A few requests before measuring, so no target is measured while it compiles, plans and connects; each answer must be
 * data without errors.
 */
async function warmUp(scenario: Scenario, target: Scenario['targets'][string]) {
  const ask = async (index: number) => {
    const token = scenario.tokens?.[index % scenario.tokens.length];
    const response = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: target.body ?? scenario.bodies?.[index % scenario.bodies.length] ?? scenario.body,
    });
    const answer = (await response.json()) as { data?: unknown; errors?: unknown[] };
    // A target that answers with errors, or with another viewer's data, would be measured doing less work.
    const wrong =
      !response.ok || answer.errors || !answer.data
        ? `${response.status} ${JSON.stringify(answer).slice(0, 300)}`
        : scenario.wrongAnswer?.(answer.data, index % scenario.tokens!.length);
    if (wrong) throw new Error(`${target.url} answered ${scenario.name} with ${wrong}`);
  };
  for (let i = 0; i < (smoke ? 5 : 20); i++) await ask(i);
  // Every viewer at once, as under load: an answer shared between viewers shows here.
  if (scenario.tokens) for (let i = 0; i < (smoke ? 1 : 3); i++) await Promise.all(scenario.tokens.map((_, index) => ask(index)));
  // Then load, unmeasured: a process's first seconds under load run code its JIT has not optimised yet, and the first
  // round of a distinct-variables scenario came out 40% below the later ones.
  if (!smoke) await load(scenario, target, 3);
}

const results: ScenarioResult[] = [];
try {
  for (const scenario of scenarios.filter((candidate) => !only || candidate.name.includes(only))) {
    const runs: ScenarioResult['runs'] = Object.fromEntries(Object.keys(scenario.targets).map((name) => [name, []]));
    for (const target of Object.values(scenario.targets)) await warmUp(scenario, target);
    for (let round = 0; round < rounds; round++) {
      // Alternate who goes first, so neither always gets the warmer machine.
      const order = Object.keys(scenario.targets);
      if (round % 2) order.reverse();
      for (const name of order) {
        const run = await load(scenario, scenario.targets[name]);
        runs[name].push(run);
        progress(
          `${scenario.name} — ${name}, round ${round + 1}: ${run.requestsPerSecond.toFixed(0)} req/s, ` +
            `p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.cpuMsPerRequest.toFixed(2)} CPU ms/request ` +
            `(subgraphs ${run.subgraphCpuMsPerRequest.toFixed(2)}, Cassandra ${run.cassandraCpuMsPerRequest?.toFixed(2) ?? '?'}), ` +
            `errors ${run.errors}`,
        );
      }
    }
    results.push({ scenario: scenario.name, runs, ...(scenario.rate ? { rate: scenario.rate } : {}) });
  }
} finally {
  await stopAll();
}

const report = {
  at: new Date().toISOString(),
  command: `npx tsx bench/router.ts ${args.join(' ')}`.trim(),
  seconds,
  rounds,
  machine: machine(),
  // Which commit "twtr before" ran: its checkout's last commit, as `git log --oneline` shows it.
  ...(baselineDir
    ? { baseline: execFileSync('git', ['-C', baselineDir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim() }
    : {}),
  results,
};
const out = smoke
  ? (process.env.BENCH_OUT ?? 'bench/results/smoke.json')
  : `bench/results/${report.at.replace(/[:.]/g, '-')}.json`;
mkdirSync('bench/results', { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
progress(`wrote ${out}`);
if (!smoke && !only) {
  writeFileSync('bench/results/latest-router.json', `${JSON.stringify(report, null, 2)}\n`);
  writeBenchmarks();
  writeScaling();
  progress('wrote BENCHMARKS.md and bench/results/latest.svg');
}
process.exit(0);
