import { loadConfig } from '../platform/config.js';
import { migrateAll } from '../tools/migrate.js';
import { SERVICES } from './services.js';
import { Supervisor } from './supervisor.js';

/**
 * npm start: (infrastructure is already up, see scripts/ensure-infra.sh) applies migrations, runs the four subgraphs
 * and the router as separate processes, restarts one that exits unexpectedly (with back-off, the others keep serving),
 * and stops them all on Ctrl-C.
 */
const config = loadConfig();
await migrateAll();

const supervisor = new Supervisor({ env: { ...process.env, APOLLO_TELEMETRY_DISABLED: 'true' } });
const stop = async () => {
  await supervisor.stopAll();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

// Subgraphs first, then the router that calls them.
await Promise.all(SERVICES.filter((s) => s.name !== 'router').map((s) => supervisor.start(s.name, s.entry)));
await Promise.all(SERVICES.filter((s) => s.name === 'router').map((s) => supervisor.start(s.name, s.entry)));
console.log(
  `\ntwtr is up: http://localhost:${config.ROUTER_PORT}/graphql  (Apollo Sandbox in a browser; Ctrl-C stops it)\n` +
    `the router's /healthz, /readyz and /metrics: http://127.0.0.1:${config.ROUTER_OPERATOR_PORT}\n`,
);
