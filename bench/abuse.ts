import '../router/src/no-telemetry.js';

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';

import WebSocket from 'ws';

import { compiledEntry, ROUTER_ENTRY, SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { follow, gql, postTweet, signUp, type TestUser } from '../tests/support/client.js';
import { cpuSecondsOf, freePort, stopChild } from '../tests/support/processes.js';
import { Inspector } from './inspector.js';
import { type AbuseMemory, type AbuseReport, type AbuseResult, abuseTable, machine, writeBenchmarks } from './report.js';
import { buildCheckout, startBenchedSystem, stopOnFailure } from './setup.js';

/**
 * What one hostile client does to the router (npm run bench:abuse; issue 19). The subgraphs run as processes as in
 * bench:router; each router under test is a process of its own started with --inspect on loopback, so this script can
 * force a garbage collection and read the heap (HeapProfiler.collectGarbage, Runtime.getHeapUsage) on any commit
 * without code support. For each abuse, bounded in count and time, a prober (a worker thread of this process, so the
 * abuser's work does not delay it) sends an ordinary query every 15 ms and records how long each answer took: its
 * max is the longest stall seen from outside. Writes bench/results/abuse-<timestamp>.json and
 * bench/results/latest-abuse.json, prints a table, and regenerates BENCHMARKS.md.
 *   --baseline D  also run the router of another checkout D (a git worktree of an earlier commit, its node_modules
 *                 linked) against the same subgraphs, as target "twtr before": before/after in one run
 *   --only a,b    run some abuses (by key) and print them without recording
 */
const args = process.argv.slice(2);
const baselineDir = args.includes('--baseline') ? resolve(args[args.indexOf('--baseline') + 1]) : undefined;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : undefined;
const progress = (message: string) => process.stderr.write(`[bench:abuse] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PROBE_INTERVAL_MS = 15;

const loadAtStart = loadavg();
// Both routers built as the production image builds them (setup.ts): the baseline before anything starts.
if (baselineDir) buildCheckout(baselineDir);
const { env, system, build } = await startBenchedSystem(progress);
const subgraphEnv = Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]]));

const mib = (bytes: number) => bytes / 2 ** 20;

interface Target {
  name: string;
  url: string;
  /** Where the router serves /readyz: its operator port, or (before it had one) its public port. */
  probesOrigin: string;
  child: ChildProcess;
  inspector: Inspector;
  stderrPath: string;
}

async function memoryOf(target: Target): Promise<AbuseMemory> {
  const usedSize = await target.inspector.heapUsedAfterCollection();
  const { result } = await target.inspector.send<{ result: { value: string } }>('Runtime.evaluate', {
    expression: 'JSON.stringify(process.memoryUsage())',
    returnByValue: true,
  });
  const usage = JSON.parse(result.value) as NodeJS.MemoryUsage;
  return { heapMiB: mib(usedSize), externalMiB: mib(usage.external), rssMiB: mib(usage.rss) };
}

/**
 * Starts measuring, inside the router, its longest event-loop stall from now on: a 10 ms timer that notes how late it
 * fires (installed through the inspector, so it needs no code support either). Read it with stallOf.
 */
async function watchStalls(target: Target): Promise<void> {
  await target.inspector.send('Runtime.evaluate', {
    expression: `(() => {
      clearInterval(globalThis.__benchAbuseStalls?.timer);
      const stalls = { maxMs: 0, last: performance.now() };
      stalls.timer = setInterval(() => {
        const now = performance.now();
        stalls.maxMs = Math.max(stalls.maxMs, now - stalls.last - 10);
        stalls.last = now;
      }, 10);
      stalls.timer.unref();
      globalThis.__benchAbuseStalls = stalls;
    })()`,
  });
}
async function stallOf(target: Target): Promise<number> {
  const { result } = await target.inspector.send<{ result: { value: number } }>('Runtime.evaluate', {
    expression: 'globalThis.__benchAbuseStalls.maxMs',
    returnByValue: true,
  });
  return result.value;
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** A router of a build (`entry`) as a process of its own, debuggable on a loopback port, in front of the subgraphs. */
async function startTarget(name: string, entry: string, cwd: string): Promise<Target> {
  const [port, operatorPort, inspectPort] = [await freePort(), await freePort(), await freePort()];
  const stderrPath = join(tmpdir(), `bench-abuse-${process.pid}-${name.replace(/\W+/g, '-')}.log`);
  const stderr = openSync(stderrPath, 'w');
  const child = spawn(process.execPath, [`--inspect=127.0.0.1:${inspectPort}`, entry], {
    cwd,
    env: { ...env, ...subgraphEnv, ROUTER_PORT: String(port), ROUTER_OPERATOR_PORT: String(operatorPort) },
    stdio: ['ignore', 'ignore', stderr],
  });
  closeSync(stderr);
  const url = `http://127.0.0.1:${port}/graphql`;
  for (const deadline = Date.now() + 60_000; ; await sleep(250)) {
    if (!alive(child)) throw new Error(`${name} exited at start-up; see ${stderrPath}`);
    if (Date.now() > deadline) throw new Error(`${name} did not answer within 60 s; see ${stderrPath}`);
    const answer = await gql(`query Ready { __typename }`, {}, { url }).catch(() => undefined);
    if (answer?.data) break;
  }
  // The router of this branch answers probes on its operator port only; an older one beside /graphql.
  const operatorOrigin = `http://127.0.0.1:${operatorPort}`;
  const operatorAnswers = await fetch(`${operatorOrigin}/healthz`).then(
    (response) => response.ok,
    () => false,
  );
  return {
    name,
    url,
    probesOrigin: operatorAnswers ? operatorOrigin : new URL(url).origin,
    child,
    inspector: await Inspector.connect(inspectPort),
    stderrPath,
  };
}

progress('seeding a profile and a viewer');
const profile = await signUp('abprof', 'Abuse profile', system.routerUrl);
const viewer = await signUp('abview', 'Abuse viewer', system.routerUrl);
// The profile's long tweets make the big answers below; the viewer follows it to receive its live posts.
await follow(viewer, profile, system.routerUrl);
for (let n = 0; n < 20; n++) await postTweet(profile, `${n} ${'a long tweet '.repeat(21)}`, system.routerUrl);
const PROBE = JSON.stringify({ query: `query Profile { user(username: "${profile.username}") { id displayName } }` });

progress('starting the routers under test');
const compiledRouter = (dir: string) => join(dir, compiledEntry(ROUTER_ENTRY));
const targets: Target[] = [await startTarget('twtr', compiledRouter(build), process.cwd())];
if (baselineDir) targets.push(await startTarget('twtr before', compiledRouter('dist'), baselineDir));

// Whatever happens, the processes started here stop with the bench.
const stopAll = async () => {
  for (const target of targets) target.inspector.close();
  await Promise.all(targets.map(({ child }) => stopChild(child)));
  await system.stop();
};
stopOnFailure(stopAll);

/**
 * The ordinary client: one request every PROBE_INTERVAL_MS whatever happened to the previous ones (an open loop, so a
 * stall shows as the latency of every request sent during it), on a thread of its own.
 */
const PROBER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { url, body, intervalMs } = workerData;
const samples = [];
let pending = 0;
let stopping = false;
const done = () => stopping && pending === 0 && parentPort.postMessage(samples);
const timer = setInterval(() => {
  const sent = performance.now();
  pending++;
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(30000) })
    .then((response) => response.json())
    .then(
      (answer) => samples.push({ ms: performance.now() - sent, ok: Boolean(answer.data && answer.data.user) }),
      () => samples.push({ ms: performance.now() - sent, ok: false }),
    )
    .finally(() => {
      pending--;
      done();
    });
}, intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  stopping = true;
  done();
});
`;
function startProber(url: string) {
  const worker = new Worker(PROBER_SOURCE, { eval: true, workerData: { url, body: PROBE, intervalMs: PROBE_INTERVAL_MS } });
  return {
    stop: async () => {
      const samples = new Promise<{ ms: number; ok: boolean }[]>((resolve) => worker.once('message', resolve));
      worker.postMessage('stop');
      const result = await samples;
      await worker.terminate();
      return result;
    },
  };
}
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** What the abusive requests got back, counted by kind (an error code, an HTTP status, a close code, "data"). */
type Outcomes = Record<string, number>;
const count = (outcomes: Outcomes, kind: string) => (outcomes[kind] = (outcomes[kind] ?? 0) + 1);
const kindOf = (answer: { data?: unknown; errors?: { extensions?: { code?: string } }[] }) =>
  answer.errors?.length ? (answer.errors[0].extensions?.code ?? 'uncoded error') : answer.data ? 'data' : 'no data';

interface AbuseRun {
  /** Abusive requests (or messages) sent. */
  sent: number;
  outcomes: Outcomes;
  /** Ends the abuse (the abuser disconnects) and adds what arrived meanwhile to outcomes. */
  release?: () => Promise<void>;
}
interface Abuse {
  key: string;
  name: string;
  /** Which targets it applies to (all when absent). */
  appliesTo?: (target: Target) => boolean;
  run: (target: Target) => Promise<AbuseRun>;
}

const post = async (url: string, body: string, token?: string) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const text = await response.text();
  try {
    return JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
  } catch {
    return { errors: [{ extensions: { code: `HTTP ${response.status}` } }] };
  }
};

/** Runs `task(index)` for index 0..total-1, `concurrency` at a time, none started after `deadline`. */
async function pool(total: number, concurrency: number, deadline: number, task: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && Date.now() < deadline) await task(next++);
    }),
  );
  return next;
}

/** A raw graphql-ws socket on the target, acknowledged, signed in as `user`. */
async function graphqlSocket(target: Target, user: TestUser): Promise<WebSocket> {
  const socket = new WebSocket(target.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const acknowledged = new Promise((resolve) => socket.once('message', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${user.token}` } }));
  await acknowledged;
  return socket;
}
/** How the socket ended: its close code (-1: it had closed before anyone asked). */
const closed = (socket: WebSocket) =>
  socket.readyState === WebSocket.CLOSED
    ? Promise.resolve(-1)
    : new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
const within = <T>(promise: Promise<T>, ms: number, fallback: T) => Promise.race([promise, sleep(ms).then(() => fallback)]);

/** Aliased feed pages whose authors' tweets' authors are resolved again: small and cheap, but slow to plan. */
const slowToPlan = (name: string) =>
  `query ${name} { ${Array.from(
    { length: 6 },
    (_, index) =>
      `a${index}: feed(first: 1) { edges { node { id text author { username followerCount tweets(first: 1) { edges { node { id text author { id username tweetCount } } } } } } } }`,
  ).join(' ')} }`;
/** 30 aliased pages of the profile's 20 long tweets: ~170 KB an answer, within every limit. */
const LARGE_ANSWER = `query Large { ${Array.from(
  { length: 30 },
  (_, index) => `p${index}: user(username: "${profile.username}") { tweets(first: 20) { edges { node { text } } } }`,
).join(' ')} }`;
const distinct = (characters: number) =>
  randomBytes(Math.ceil(characters / 2))
    .toString('hex')
    .slice(0, characters);

/**
 * Five sockets, each sending one subscribe message; what each got first (an error's code, a result, how the socket
 * closed, or that it is live and quiet after 3 s). The sockets stay open until released.
 */
async function subscriptions(target: Target, message: () => string): Promise<AbuseRun> {
  const outcomes: Outcomes = {};
  const sockets: WebSocket[] = [];
  for (let round = 0; round < 5; round++) {
    const socket = await graphqlSocket(target, viewer);
    sockets.push(socket);
    const first = new Promise<string>((resolve) =>
      socket.once('message', (data) => {
        const answer = JSON.parse(String(data)) as { type: string; payload?: any };
        const errors = answer.type === 'error' ? answer.payload : answer.payload?.errors;
        resolve(errors?.length ? (errors[0]?.extensions?.code ?? 'uncoded error') : answer.type);
      }),
    );
    socket.send(message());
    count(
      outcomes,
      await within(Promise.race([first, closed(socket).then((code) => `closed ${code}`)]), 3_000, 'no answer (live)'),
    );
  }
  return {
    sent: sockets.length,
    outcomes,
    release: async () => {
      for (const socket of sockets) socket.terminate();
    },
  };
}

const abuses: Abuse[] = [
  {
    key: 'idle',
    name: 'none (the prober alone, 3 s)',
    run: async () => {
      await sleep(3_000);
      return { sent: 0, outcomes: {} };
    },
  },
  {
    key: 'planning',
    name: '6 distinct slow-to-plan queries (6 aliased feed pages each), one after another, signed in',
    run: async (target) => {
      const outcomes: Outcomes = {};
      const salt = distinct(6);
      let sent = 0;
      for (const deadline = Date.now() + 30_000; sent < 6 && Date.now() < deadline; sent++)
        count(
          outcomes,
          kindOf(await post(target.url, JSON.stringify({ query: slowToPlan(`Slow${salt}${sent}`) }), viewer.token)),
        );
      return { sent, outcomes };
    },
  },
  {
    key: 'variables',
    name: '3,000 requests with distinct large variables: 3 KB usernames, and 1 in 4 a `$first` given as a 20 KB string',
    run: async (target) => {
      const outcomes: Outcomes = {};
      const byName = `query ByName($u: String!) { user(username: $u) { id } }`;
      const page = `query Page($f: Int) { user(username: "${profile.username}") { tweets(first: $f) { edges { node { id } } } } }`;
      const sent = await pool(3_000, 16, Date.now() + 8_000, async (index) => {
        const body =
          index % 4 === 3
            ? JSON.stringify({ query: page, variables: { f: `9${'0'.repeat(20_000 - 8)}${distinct(7)}` } })
            : JSON.stringify({ query: byName, variables: { u: distinct(3_000) } });
        count(outcomes, kindOf(await post(target.url, body)));
      });
      return { sent, outcomes };
    },
  },
  {
    key: 'unread-socket',
    name: 'a websocket that does not read: 100 queries with ~200 KB answers and 20 pings of 500 KB, 20 ms apart',
    run: async (target) => {
      const outcomes: Outcomes = {};
      const socket = await graphqlSocket(target, viewer);
      const tcp = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      let sent = 0;
      for (let id = 0; id < 100 && socket.readyState === WebSocket.OPEN; id++) {
        socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: LARGE_ANSWER } }));
        sent++;
        if (id % 5 === 4) {
          socket.send(JSON.stringify({ type: 'ping', payload: { echo: distinct(500_000) } }));
          sent++;
        }
        await sleep(20);
      }
      return {
        sent,
        outcomes,
        release: async () => {
          // Read what the router kept for us (bounded in time), then hang up.
          socket.on('message', (data) => {
            const message = JSON.parse(String(data)) as { type: string; payload?: { echo?: string } };
            count(outcomes, message.type === 'pong' && message.payload?.echo ? 'pong with echo' : message.type);
          });
          const code = closed(socket);
          tcp.resume();
          count(outcomes, `closed ${await within<number | string>(code, 3_000, 'by the client')}`);
          socket.terminate();
        },
      };
    },
  },
  {
    key: 'slow-subscriber',
    name: "a live subscriber that does not read: 1,000 posts to its feed, each event ~6 KB resolved (the author's 20 tweets)",
    run: async (target) => {
      const outcomes: Outcomes = {};
      const socket = await graphqlSocket(target, viewer);
      const heavy = `subscription Heavy { feedItemAdded { id text author { username tweets(first: 20) { edges { node { text } } } } } }`;
      socket.send(JSON.stringify({ id: 'heavy', type: 'subscribe', payload: { query: heavy } }));
      await sleep(500);
      const tcp = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      const sent = await pool(1_000, 8, Date.now() + 60_000, async (index) => {
        await postTweet(profile, `live ${index}`, system.routerUrl);
      });
      await sleep(2_000); // the last posts' fan-out and live delivery
      return {
        sent,
        outcomes,
        release: async () => {
          socket.on('message', (data) => {
            const message = JSON.parse(String(data)) as { type: string; payload?: any };
            const errors = message.type === 'error' ? message.payload : message.payload?.errors;
            count(outcomes, errors?.length ? (errors[0]?.extensions?.code ?? 'uncoded error') : message.type);
          });
          const code = closed(socket);
          tcp.resume();
          count(outcomes, `closed ${await within<number | string>(code, 3_000, 'by the client')}`);
          socket.terminate();
        },
      };
    },
  },
  {
    key: 'deep-variables',
    name: '5 subscriptions with 200,000-deep undeclared variables (raw JSON, 400 KB), each on its own socket',
    run: (target) =>
      subscriptions(target, () => {
        const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
        return `{"id":"deep","type":"subscribe","payload":{"query":"subscription Live { feedItemAdded { id } }","variables":{"deep":${deep}}}}`;
      }),
  },
  {
    key: 'long-alias',
    name: '5 subscriptions with a ~1 MiB alias, each on its own socket',
    run: (target) =>
      subscriptions(target, () => {
        const query = `subscription { a${distinct(1024 * 1024 - 300)}: feedItemAdded { id } }`;
        return JSON.stringify({ id: 'alias', type: 'subscribe', payload: { query } });
      }),
  },
  {
    key: 'readyz-public',
    name: '/readyz on the public port: 2,000 GETs, 32 at a time',
    run: async (target) => {
      const outcomes: Outcomes = {};
      const url = `${new URL(target.url).origin}/readyz`;
      const sent = await pool(2_000, 32, Date.now() + 8_000, async () => {
        const response = await fetch(url);
        await response.arrayBuffer();
        count(outcomes, `HTTP ${response.status}`);
      });
      return { sent, outcomes };
    },
  },
  {
    key: 'readyz-operator',
    name: '/readyz where probes are served (the operator port, loopback only): 2,000 GETs, 32 at a time',
    // Before the operator port, probes were served on the public port: the abuse above.
    appliesTo: (target) => target.probesOrigin !== new URL(target.url).origin,
    run: async (target) => {
      const outcomes: Outcomes = {};
      const sent = await pool(2_000, 32, Date.now() + 8_000, async () => {
        const response = await fetch(`${target.probesOrigin}/readyz`);
        await response.arrayBuffer();
        count(outcomes, `HTTP ${response.status}`);
      });
      return { sent, outcomes };
    },
  },
];

const subgraphCpu = () => SUBGRAPH_NAMES.reduce((sum, name) => sum + cpuSecondsOf(system.children[name].pid!), 0);

/**
 * Waits (at most 20 s) until the subgraphs and the routers use less than a tenth of a core, so one measurement does not
 * inherit the backlog of the one before (requests a router gave up on still run in the subgraphs).
 */
async function quiet(): Promise<void> {
  const busy = () =>
    subgraphCpu() + targets.reduce((sum, target) => sum + (alive(target.child) ? cpuSecondsOf(target.child.pid!) : 0), 0);
  for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
    const start = busy();
    await sleep(500);
    if (busy() - start < 0.05) return;
  }
  progress('  (the system did not settle within 20 s)');
}

async function measure(abuse: Abuse, target: Target): Promise<AbuseResult> {
  await quiet();
  const before = await memoryOf(target);
  const stderrBefore = statSync(target.stderrPath).size;
  const prober = startProber(target.url);
  await sleep(300);
  await watchStalls(target);
  const [routerCpu, subgraphsCpu, started] = [cpuSecondsOf(target.child.pid!), subgraphCpu(), performance.now()];
  const run = await abuse.run(target);
  const abuseSeconds = (performance.now() - started) / 1000;
  await sleep(500);
  const samples = await prober.stop();
  const longestStallMs = alive(target.child) ? await stallOf(target) : NaN;
  const routerCpuSeconds = alive(target.child) ? cpuSecondsOf(target.child.pid!) - routerCpu : NaN;
  const subgraphsCpuSeconds = subgraphCpu() - subgraphsCpu;
  const exitedNow = () => (alive(target.child) ? undefined : `exit ${target.child.exitCode ?? target.child.signalCode}`);
  const held = exitedNow() ? before : await memoryOf(target);
  await run.release?.();
  await sleep(300);
  const after = exitedNow() ? before : await memoryOf(target);
  const latencies = samples.map((sample) => sample.ms).sort((a, b) => a - b);
  return {
    abuse: abuse.name,
    key: abuse.key,
    target: target.name,
    before,
    held,
    after,
    abuseSeconds,
    sent: run.sent,
    outcomes: run.outcomes,
    prober: {
      requests: samples.length,
      failed: samples.filter((sample) => !sample.ok).length,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? NaN,
    },
    longestStallMs,
    routerCpuSeconds,
    subgraphsCpuSeconds,
    stderrBytes: statSync(target.stderrPath).size - stderrBefore,
    ...(exitedNow() ? { exited: exitedNow() } : {}),
  };
}

const results: AbuseResult[] = [];
try {
  // Every target answers the prober's query once before anything is measured (compiled, planned, connected).
  for (const target of targets) for (let i = 0; i < 20; i++) await post(target.url, PROBE);
  for (const abuse of abuses.filter((candidate) => !only || only.includes(candidate.key))) {
    for (const target of targets.filter((candidate) => abuse.appliesTo?.(candidate) ?? true)) {
      if (!alive(target.child)) continue;
      progress(`${abuse.key} — ${target.name}`);
      const result = await measure(abuse, target);
      results.push(result);
      progress(
        `  heap ${result.before.heapMiB.toFixed(1)} → ${result.held.heapMiB.toFixed(1)} MiB held → ` +
          `${result.after.heapMiB.toFixed(1)} after; prober p50 ${result.prober.p50.toFixed(0)} p99 ` +
          `${result.prober.p99.toFixed(0)} max ${result.prober.max.toFixed(0)} ms; ${JSON.stringify(result.outcomes)}`,
      );
    }
  }
} finally {
  await stopAll();
}

const report: AbuseReport = {
  at: new Date().toISOString(),
  command: `npx tsx bench/abuse.ts ${args.join(' ')}`.trim(),
  probeIntervalMs: PROBE_INTERVAL_MS,
  machine: machine(),
  // The machine may be shared: its 1, 5 and 15-minute load averages when the bench started and ended.
  loadAverage: { atStart: loadAtStart, atEnd: loadavg() },
  // Which commit "twtr before" ran: its checkout's last commit, as `git log --oneline` shows it.
  ...(baselineDir
    ? { baseline: execFileSync('git', ['-C', baselineDir, 'log', '-1', '--format=%h %s'], { encoding: 'utf8' }).trim() }
    : {}),
  results,
};
console.log(abuseTable(results));
if (!only) {
  const out = `bench/results/abuse-${report.at.replace(/[:.]/g, '-')}.json`;
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync('bench/results/latest-abuse.json', `${JSON.stringify(report, null, 2)}\n`);
  writeBenchmarks();
  progress(`wrote ${out} and BENCHMARKS.md`);
}
for (const target of targets)
  progress(`${target.name}'s stderr: ${target.stderrPath} (${readFileSync(target.stderrPath).length} bytes)`);
process.exit(0);
