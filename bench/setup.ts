import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadConfig } from '../platform/config.js';
import { SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { withoutTestLimits } from '../tests/support/env.js';
import { startSystemProcesses } from '../tests/support/processes.js';
import { migrateAll } from '../tools/migrate.js';

/**
 * The builds the benchmarks run, one per run, named by the run's pid. At the top of the repository, so that
 * node_modules resolve to the repository's: under bench/, bench's own (a second graphql) would be found first.
 */
const BUILDS = fileURLToPath(new URL('../.bench-builds/', import.meta.url));

/**
 * Builds a checkout as the production image does (scripts/build.sh), into `out` or its dist/; tsc's errors, which it
 * prints on stdout, reach this process's stderr.
 */
export function buildCheckout(dir: string, out?: string): void {
  execFileSync('bash', ['scripts/build.sh', ...(out ? [out] : [])], { cwd: dir, stdio: ['ignore', 2, 2] });
}

/**
 * A build of this checkout for this run, removed when the process exits however it ends short of SIGKILL; builds of
 * runs whose process is gone (killed) are removed first.
 */
export function buildForThisRun(): string {
  for (const pid of existsSync(BUILDS) ? readdirSync(BUILDS) : [])
    if (!existsSync(`/proc/${pid}`)) rmSync(join(BUILDS, pid), { recursive: true, force: true });
  const build = join(BUILDS, String(process.pid));
  process.once('exit', () => rmSync(build, { recursive: true, force: true }));
  // Stopped from outside (a smoke run past its deadline, ^C): what it started is stopped first (see stopOnFailure).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, stopAndExit);
  buildCheckout(fileURLToPath(new URL('..', import.meta.url)), build);
  return build;
}

/**
 * What the benchmarks measure: the product's defaults (not the tests' low limits), each service its own process,
 * keyspaces migrated, and the code as the production image runs it: compiled by tsc and run by plain node, from a build
 * of the benchmark's own (`build`). Not through tsx, as `npm start` runs it: its transform gives every function a name
 * property of its own as it is created, a dictionary per closure, about 6 KiB of the router's heap per idle
 * subscription. `inspected` services listen for a debugger on loopback (system.inspectPorts). Returns the environment
 * the services got, the configuration that reaches them, and the build.
 */
export async function startBenchedSystem(
  progress: (message: string) => void,
  { fanoutWorker = false, inspected = [] as readonly string[] } = {},
) {
  const env: NodeJS.ProcessEnv = {
    ...withoutTestLimits(process.env),
    LOG_LEVEL: 'error',
    APOLLO_TELEMETRY_DISABLED: 'true',
    // The load comes from one address: per-address limits would measure the limiter.
    RATE_LIMIT_SIGN_UP: '100000/60',
    RATE_LIMIT_POST_TWEET: '100000/60',
    RATE_LIMIT_FOLLOW: '100000/60',
    RATE_LIMIT_ENGAGE: '100000/60',
  };
  await migrateAll(loadConfig(env));
  progress('building the services (scripts/build.sh), then starting the subgraphs and the router as processes');
  const build = buildForThisRun();
  const system = await startSystemProcesses(env, { fanoutWorker, compiled: build, inspected });
  const config = loadConfig({
    ...env,
    ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]])),
  });
  return { env, system, config, build };
}

/** How to stop what the benchmark started (set by stopOnFailure); then it exits with 1. */
let stopStarted: (() => Promise<void>) | undefined;
const stopAndExit = () => void (stopStarted?.() ?? Promise.resolve()).finally(() => process.exit(1));

/**
 * A benchmark that fails, or is stopped with a signal, stops what it started (its processes would otherwise outlive it)
 * and exits with 1.
 */
export function stopOnFailure(stop: () => Promise<void>): void {
  stopStarted = stop;
  const fail = (error: unknown) => {
    console.error(error);
    stopAndExit();
  };
  process.once('uncaughtException', fail);
  process.once('unhandledRejection', fail);
}

/**
 * The local Cassandra node's process, when scripts/cassandra.sh started it (undefined for a node started otherwise):
 * its CPU is part of what every request costs, on a machine where it shares the cores with everything else.
 */
export function localCassandraPid(): number | undefined {
  try {
    const cache = process.env.TWTR_CACHE_DIR ?? join(homedir(), '.cache/twtr');
    const pid = Number(readFileSync(join(cache, 'cassandra-node/cassandra.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && existsSync(`/proc/${pid}`) ? pid : undefined;
  } catch {
    return undefined;
  }
}
