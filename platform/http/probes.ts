import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import express, { type Express } from 'express';

import { collectProcessMetrics, metricsText, sharedFor } from '../observability/metrics.js';
import type { RunningServer } from '../runtime.js';

/**
 * GET /healthz: the process works (liveness; a dependency being away is no reason to restart it).
 * GET /readyz: it can serve now (readiness): 200, or 503 naming what does not work.
 * GET /metrics: the process's metrics in Prometheus text (platform/observability/metrics.ts).
 */
export function serveOperatorEndpoints(app: Express, unavailableDependencies: () => Promise<string[]>): void {
  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });
  app.get('/readyz', async (_request, response) => {
    const failing = await unavailableDependencies();
    response.status(failing.length ? 503 : 200).json(failing.length ? { status: 'unavailable', failing } : { status: 'ready' });
  });
  collectProcessMetrics();
  app.get('/metrics', async (_request, response) => {
    const { contentType, body } = await metricsText();
    response.type(contentType).send(body);
  });
}

export interface OperatorServerOptions {
  /** Port 0 picks a free one. */
  port: number;
  /** Where to listen: loopback unless probes and Prometheus come from elsewhere (a pod's IP). */
  bindAddress: string;
  /** Names the dependencies that do not work right now (empty when ready), for GET /readyz. */
  unavailableDependencies: () => Promise<string[]>;
  /**
   * How long one readiness check answers every GET /readyz: concurrent and repeated probes share it, so however many
   * arrive, at most one check of the dependencies starts per interval. Defaults to 1000 ms.
   */
  readinessCacheMs?: number;
}

/**
 * The operator endpoints (/healthz, /readyz, /metrics) on a port of their own, apart from a public one that anyone
 * reaches; `url` is its origin (`http://127.0.0.1:9400`), the paths go after it.
 */
export async function startOperatorServer(options: OperatorServerOptions): Promise<RunningServer> {
  const app = express();
  serveOperatorEndpoints(app, sharedFor(options.readinessCacheMs ?? 1_000, options.unavailableDependencies));
  const httpServer = createServer(app);
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port, options.bindAddress, () => {
      httpServer.off('error', reject);
      resolve();
    });
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = ['0.0.0.0', '::'].includes(options.bindAddress) ? '127.0.0.1' : options.bindAddress;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    // close() ends idle keep-alive connections (a scraper's) and waits for requests in flight.
    stop: () => new Promise<void>((resolve, reject) => httpServer.close((error) => (error ? reject(error) : resolve()))),
  };
}

/** Runs `check` with a deadline: a dependency that does not answer in time is as unavailable as one that refuses. */
export async function answersWithin(check: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), timeoutMs))),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}
