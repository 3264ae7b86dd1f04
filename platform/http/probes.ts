import type { Express } from 'express';

import { collectProcessMetrics, metricsText } from '../observability/metrics.js';

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
