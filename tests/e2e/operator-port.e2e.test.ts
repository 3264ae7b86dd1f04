import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { describe, expect, inject, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import { SUBGRAPH_NAMES, urlVariable } from '../../platform/manifest.js';
import { startRouter } from '../../router/src/server.js';
import { eventually } from '../support/client.js';

const OPERATOR_PATHS = ['/healthz', '/readyz', '/metrics'];

describe("the router's operator endpoints", () => {
  it('are not on the public port: /healthz, /readyz, /metrics (and /health) answer 404 there', async () => {
    const publicOrigin = new URL(inject('routerUrl')).origin;
    for (const path of [...OPERATOR_PATHS, '/health']) {
      const response = await fetch(`${publicOrigin}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toMatch(/twtr_|"status"/);
    }
  });

  it('are on the operator port, which serves nothing else', async () => {
    const operator = inject('routerOperatorUrl');
    expect(new URL(operator).port).not.toBe(new URL(inject('routerUrl')).port);
    for (const path of OPERATOR_PATHS) expect((await fetch(`${operator}${path}`)).status, path).toBe(200);
    const graphql = await fetch(`${operator}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(graphql.status).toBe(404);
  });
});

describe("the router's readiness", () => {
  it('checks the subgraphs once for any number of concurrent and repeated /readyz within a second', async () => {
    // Stand-ins for every subgraph: they count the readiness checks they get, and answer slowly enough that
    // probes overlap.
    let checks = 0;
    const subgraphs = createServer((request, response) => {
      if (request.url === '/readyz') checks++;
      setTimeout(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}'), 50);
    });
    await new Promise<void>((resolve) => subgraphs.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(subgraphs.address() as AddressInfo).port}/graphql`;
    const router = await startRouter(
      { ...loadConfig(), ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), url])), ROUTER_OPERATOR_PORT: 0 },
      createLogger('silent'),
      0,
    );
    try {
      const readyz = async () => (await fetch(`${router.operatorUrl}/readyz`)).status;
      const firstAt = performance.now();
      expect(await Promise.all(Array.from({ length: 100 }, readyz))).toEqual(Array(100).fill(200));
      expect(checks).toBe(SUBGRAPH_NAMES.length);
      while (performance.now() - firstAt < 500) expect(await readyz()).toBe(200);
      expect(checks).toBe(SUBGRAPH_NAMES.length);
      // A second later the answer is checked again, once.
      await eventually(async () => {
        expect(await readyz()).toBe(200);
        expect(checks).toBe(2 * SUBGRAPH_NAMES.length);
      });
      expect(performance.now() - firstAt).toBeGreaterThanOrEqual(1_000);
    } finally {
      await router.stop();
      subgraphs.close();
    }
  });
});
