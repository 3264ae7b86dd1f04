import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { compiledEntry } from '../../platform/manifest.js';
import { SERVICES } from '../../scripts/services.js';
import { eventually } from './client.js';

/** Past a service's own 15 s to stop (platform/runtime.ts): it is not going to. */
const STOP_GRACE_MS = 20_000;

/** What Node prints on stderr about a debugger of a process run with --inspect. */
const INSPECTOR_LINE = /^(Debugger (listening|attached|ending)|For help, see: https:\/\/nodejs\.org|Waiting for the debugger)/;

/** The whole system as `npm start` runs it: one process per service, on free ports. */
export interface SystemProcesses {
  routerUrl: string;
  /** The router's /healthz, /readyz and /metrics are under this origin, not beside routerUrl. */
  routerOperatorUrl: string;
  subgraphUrls: Record<string, string>;
  /** Every service's process, by name. */
  children: Record<string, ChildProcess>;
  /** The V8 inspector's loopback port of each service started with one (`inspected`). */
  inspectPorts: Record<string, number>;
  /** Resident memory of each service's process now, in MiB. */
  rssMiB(): Record<string, number>;
  /** Names of the services whose process has exited. */
  exited(): string[];
  /** Signals one service's process (SIGKILL by default: no chance to clean up) and waits for it to be gone. */
  kill(name: string, signal?: NodeJS.Signals): Promise<number | null>;
  /** Starts a service's process again, as an orchestrator would, and waits until it is healthy. */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** CPU seconds (user + system) a process and its descendants have used so far, from /proc. */
export function cpuSecondsOf(pid: number): number {
  const ticksPerSecond = 100;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return own + children.reduce((sum, child) => sum + cpuSecondsOf(Number(child)), 0);
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts every service as its own process: with tsx from the sources, as `npm start` does, or with `compiled`, the
 * directory of a production build (dist/ from `npm run build`, or one from `scripts/build.sh <dir>`) with plain node,
 * as the image does. With `fanoutWorker`, the feed is split
 * as in Kubernetes: `feed` consumes the main queue and a `feed-fanout` process the fan-out work items.
 */
export async function startSystemProcesses(
  env: NodeJS.ProcessEnv,
  {
    compiled,
    fanoutWorker = false,
    inspected = [],
  }: { compiled?: string; fanoutWorker?: boolean; inspected?: readonly string[] } = {},
): Promise<SystemProcesses> {
  const worker = fanoutWorker ? [{ ...SERVICES.find((service) => service.name === 'feed')!, name: 'feed-fanout' }] : [];
  const processes = [...SERVICES, ...worker];
  const ports = Object.fromEntries(
    await Promise.all(processes.map(async (service) => [service.name, await freePort()] as const)),
  );
  const routerOperatorPort = await freePort();
  const inspectPorts = Object.fromEntries(await Promise.all(inspected.map(async (name) => [name, await freePort()] as const)));
  const serviceEnv: NodeJS.ProcessEnv = {
    ...env,
    APOLLO_TELEMETRY_DISABLED: 'true',
    ROUTER_OPERATOR_PORT: String(routerOperatorPort),
  };
  const ownEnv: Record<string, NodeJS.ProcessEnv> = fanoutWorker
    ? { feed: { FEED_QUEUES: 'feed' }, 'feed-fanout': { FEED_QUEUES: 'feed.fanout', FEED_PORT: String(ports['feed-fanout']) } }
    : {};
  const urlOf = (name: string) => `http://127.0.0.1:${ports[name]}/graphql`;
  const subgraphUrls: Record<string, string> = {};
  for (const service of SERVICES) {
    serviceEnv[service.portVariable] = String(ports[service.name]);
    if (service.urlVariable) {
      subgraphUrls[service.name] = urlOf(service.name);
      serviceEnv[service.urlVariable] = subgraphUrls[service.name];
    }
  }
  const children: Record<string, ChildProcess> = {};
  const launch = (name: string) => {
    const service = processes.find((candidate) => candidate.name === name)!;
    // TWTR_CPU_PROFILE_DIR: every service writes a CPU profile there when it stops (for finding where time goes).
    const profile = env.TWTR_CPU_PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${env.TWTR_CPU_PROFILE_DIR}`] : [];
    const nodeArgs = [...profile, ...(inspectPorts[name] ? [`--inspect=127.0.0.1:${inspectPorts[name]}`] : [])];
    const command = compiled
      ? [...nodeArgs, `${compiled}/${compiledEntry(service.entry)}`]
      : [...nodeArgs, '--import', 'tsx', service.entry];
    const child = spawn(process.execPath, command, {
      env: { ...serviceEnv, ...ownEnv[name] },
      stdio: ['ignore', 'ignore', inspectPorts[name] ? 'pipe' : 'inherit'],
    });
    // The inspector's own lines (listening, attached, ending) are not the service's to report.
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = String(chunk).split(/(?<=\n)/);
      const kept = lines.filter((line) => !INSPECTOR_LINE.test(line)).join('');
      if (kept) process.stderr.write(kept);
    });
    children[name] = child;
  };
  for (const service of processes) launch(service.name);
  const routerUrl = urlOf('router');
  const routerOperatorUrl = `http://127.0.0.1:${routerOperatorPort}`;
  // The router answers probes on its operator port only; a subgraph beside its /graphql.
  const healthOf = (name: string) =>
    name === 'router' ? `${routerOperatorUrl}/healthz` : urlOf(name).replace(/graphql$/, 'healthz');
  const healthy = (names: string[]) =>
    eventually(
      async () => {
        for (const name of names) {
          const response = await fetch(healthOf(name));
          if (!response.ok) throw new Error(`${name} is not healthy yet`);
        }
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  await healthy(processes.map((service) => service.name));
  const exited = () =>
    Object.entries(children).flatMap(([name, child]) => (child.exitCode !== null || child.signalCode !== null ? [name] : []));
  return {
    routerUrl,
    routerOperatorUrl,
    subgraphUrls,
    children,
    inspectPorts,
    exited,
    kill: (name, signal = 'SIGKILL') =>
      new Promise<number | null>((resolve) => {
        children[name].once('exit', (code) => resolve(code));
        children[name].kill(signal);
      }),
    restart: async (name) => {
      launch(name);
      await healthy([name]);
    },
    rssMiB: () =>
      Object.fromEntries(
        Object.entries(children).map(([name, child]) => {
          const kib = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]);
          return [name, Math.round(kib / 1024)];
        }),
      ),
    stop: async () => {
      await Promise.all(Object.values(children).map(stopChild));
    },
  };
}

/**
 * Stops a child process (SIGTERM) and resolves once it has exited; at once if it already had. One that does not finish
 * stopping (a service with a debugger still attached waits for it to leave, even in process.exit) is killed after
 * STOP_GRACE_MS, so whoever stops it never waits for ever.
 */
export function stopChild(child: ChildProcess | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
