import { type ChildProcess, spawn } from 'node:child_process';

import { loadConfig } from '../platform/config.js';
import { migrateAll } from './migrate.js';
import { SERVICES } from './services.js';

/**
 * npm start: (infrastructure is already up, see scripts/ensure-infra.sh) applies migrations, runs the four subgraphs
 * and the router as separate processes, and stops them all on Ctrl-C.
 */
const config = loadConfig();
await migrateAll();

const env = { ...process.env, APOLLO_TELEMETRY_DISABLED: 'true' };
const children: ChildProcess[] = [];
let stopping = false;

function launch(name: string, entry: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    children.push(child);
    child.stderr!.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      if (chunk.toString().includes('listening')) resolve();
    });
    child.on('exit', (code, signal) => {
      if (!stopping) {
        console.error(`${name} exited (${signal ?? code}); stopping everything`);
        void stopAll(1);
      }
      reject(new Error(`${name} exited before it was ready`));
    });
  });
}

async function stopAll(exitCode: number) {
  stopping = true;
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  process.exit(exitCode);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

// Subgraphs first, then the router that calls them.
await Promise.all(SERVICES.filter((s) => s.name !== 'router').map((s) => launch(s.name, s.entry)));
await Promise.all(SERVICES.filter((s) => s.name === 'router').map((s) => launch(s.name, s.entry)));
console.log(`\ntwtr is up: http://localhost:${config.ROUTER_PORT}/graphql  (Apollo Sandbox in a browser; Ctrl-C stops it)\n`);
