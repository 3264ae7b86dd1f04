import { readFileSync } from 'node:fs';

import { portVariable, SUBGRAPHS } from '../platform/manifest.js';

/**
 * A container's health check (Dockerfile HEALTHCHECK, docker-compose): exits 0 when the URL answers 2xx within 3 s.
 * Plain node, no curl in the image. Without a URL it probes /healthz of the service the container runs (its main
 * process's entry point, on that service's port; the router's operator port), so one image's HEALTHCHECK fits the
 * router and every subgraph: `node dist/tools/probe.js [http://127.0.0.1:4001/readyz]`.
 */
export function ownHealthUrl(mainCommand: string, env: NodeJS.ProcessEnv): string {
  const subgraph = SUBGRAPHS.find((candidate) => mainCommand.includes(`subgraphs/${candidate.name}/src/index`));
  const port = subgraph ? (env[portVariable(subgraph.name)] ?? subgraph.port) : (env.ROUTER_OPERATOR_PORT ?? 9400);
  return `http://127.0.0.1:${port}/healthz`;
}

/** The container's main process's command line (pid 1), arguments joined by spaces. */
const mainCommand = () => {
  try {
    return readFileSync('/proc/1/cmdline', 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

if (process.argv[1]?.match(/probe\.[jt]s$/)) {
  const url = process.argv[2] ?? ownHealthUrl(mainCommand(), process.env);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    process.exit(response.ok ? 0 : 1);
  } catch {
    process.exit(1);
  }
}
