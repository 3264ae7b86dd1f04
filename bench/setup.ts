import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from '../platform/config.js';
import { SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { withoutTestLimits } from '../tests/support/env.js';
import { startSystemProcesses } from '../tests/support/processes.js';
import { migrateAll } from '../tools/migrate.js';

/**
 * What both benchmarks measure: the product's defaults (not the tests' low limits), each service its own process,
 * keyspaces migrated. Returns the environment the services got and the configuration that reaches them.
 */
export async function startBenchedSystem(progress: (message: string) => void, { fanoutWorker = false } = {}) {
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
  progress('starting the subgraphs and the router as processes');
  const system = await startSystemProcesses(env, { fanoutWorker });
  const config = loadConfig({
    ...env,
    ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]])),
  });
  return { env, system, config };
}

/** A benchmark that fails stops what it started (its processes would otherwise outlive it) and exits with 1. */
export function stopOnFailure(stop: () => Promise<void>): void {
  const fail = (error: unknown) => {
    console.error(error);
    void stop().finally(() => process.exit(1));
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
