import '../router/src/no-telemetry.js';

import { spawn } from 'node:child_process';

import autocannon from 'autocannon';

import { loadConfig } from '../platform/config.js';
import { SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';
import { cpuSecondsOf, freePort, startSystemProcesses } from '../tests/support/processes.js';

/**
 * A CPU profile of the router alone (npm run profile:router -- <query> [seconds]): the subgraphs run as processes, a
 * router runs under `node --cpu-prof` (profile written to bench/profiles/ when it stops), autocannon loads it.
 */
const query = process.argv[2] ?? '{ __typename }';
const seconds = Number(process.argv[3] ?? 10);
const env = { ...process.env, LOG_LEVEL: 'error', APOLLO_TELEMETRY_DISABLED: 'true' };
const system = await startSystemProcesses(env);
const port = await freePort();
const operatorPort = await freePort();
const router = spawn(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir=bench/profiles', '--import', 'tsx', 'router/src/index.ts'],
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
const url = `http://127.0.0.1:${port}/graphql`;
for (;;) {
  const ready = await fetch(`http://127.0.0.1:${operatorPort}/readyz`)
    .then((response) => response.ok)
    .catch(() => false);
  if (ready) break;
  await new Promise((resolve) => setTimeout(resolve, 100));
}
loadConfig(env);
const cpuBefore = cpuSecondsOf(router.pid!);
const result = await autocannon({
  url,
  method: 'POST',
  connections: 32,
  duration: seconds,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query }),
});
const cpuMs = (1000 * (cpuSecondsOf(router.pid!) - cpuBefore)) / result.requests.total;
console.log(
  `${result.requests.average} req/s, p50 ${result.latency.p50} ms, ${cpuMs.toFixed(2)} router CPU ms/request, errors ${result.errors + result.non2xx}`,
);
await new Promise<void>((resolve) => {
  router.once('exit', () => resolve());
  router.kill('SIGTERM');
});
await system.stop();
