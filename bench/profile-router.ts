import '../router/src/no-telemetry.js';

import { spawn } from 'node:child_process';
import { join } from 'node:path';

import autocannon from 'autocannon';

import { loadConfig } from '../platform/config.js';
import { compiledEntry, ROUTER_ENTRY, SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { cpuSecondsOf, freePort, startSystemProcesses, stopChild } from '../tests/support/processes.js';
import { migrateAll } from '../tools/migrate.js';
import { buildForThisRun, stopOnFailure } from './setup.js';

/**
 * A CPU profile of the router alone (npm run profile:router -- <query> [seconds] [variable sets]): the subgraphs run as
 * processes, a router runs under `node --cpu-prof` (profile written to bench/profiles/ when it stops), autocannon loads
 * it. All from a build of this checkout, as the production image and the benchmarks run them: under tsx, its
 * transform's own work and closures would be part of the profile.
 */
const query = process.argv[2] ?? '{ __typename }';
const seconds = Number(process.argv[3] ?? 10);
/** A JSON array of variable sets, asked in turn (distinct requests, which no in-flight sharing merges); none by default. */
const variableSets = JSON.parse(process.argv[4] ?? '[{}]') as Record<string, unknown>[];
const bodies = variableSets.map((variables) => JSON.stringify({ query, variables }));
const env = { ...process.env, LOG_LEVEL: 'error', APOLLO_TELEMETRY_DISABLED: 'true' };
// A fresh node has no keyspaces yet: the subgraphs would exit on their first query.
await migrateAll(loadConfig(env));
const build = buildForThisRun();
const system = await startSystemProcesses(env, { compiled: build });
const port = await freePort();
const operatorPort = await freePort();
const router = spawn(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir=bench/profiles', join(build, compiledEntry(ROUTER_ENTRY))],
  {
    env: {
      ...env,
      ROUTER_PORT: String(port),
      ROUTER_OPERATOR_PORT: String(operatorPort),
      ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), system.subgraphUrls[name]])),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  },
);
// A failure or ^C from here on stops the router and the subgraphs rather than leaving them running.
stopOnFailure(async () => {
  await stopChild(router);
  await system.stop();
});
const url = `http://127.0.0.1:${port}/graphql`;
for (const deadline = Date.now() + 60_000; ;) {
  const ready = await fetch(`http://127.0.0.1:${operatorPort}/readyz`)
    .then((response) => response.ok)
    .catch(() => false);
  if (ready) break;
  if (Date.now() > deadline) throw new Error('the router was not ready within 60 s');
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const cpuBefore = cpuSecondsOf(router.pid!);
let next = 0;
const result = await autocannon({
  url,
  method: 'POST',
  connections: 32,
  duration: seconds,
  headers: { 'content-type': 'application/json' },
  requests: [{ method: 'POST', setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }],
});
const cpuMs = (1000 * (cpuSecondsOf(router.pid!) - cpuBefore)) / result.requests.total;
console.log(
  `${result.requests.average} req/s, p50 ${result.latency.p50} ms, ${cpuMs.toFixed(2)} router CPU ms/request, errors ${result.errors + result.non2xx}`,
);
await stopChild(router);
await system.stop();
