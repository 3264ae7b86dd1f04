import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../platform/logging.js';
import { type RunningServer, startSubgraph } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import { subgraph as users } from '../../subgraphs/users/src/server.js';
import { codes, eventually, type GraphQLResponse } from '../support/client.js';
import { testConfig } from '../support/infra.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/** The users subgraph with its Cassandra behind a link the test cuts, and a router in front of it. */
let proxy: TcpProxy;
let usersServer: RunningServer;
let router: RunningServer;

beforeAll(async () => {
  proxy = await startTcpProxy(9042);
  const logger = createLogger('silent');
  usersServer = await startSubgraph(users, {
    config: { ...testConfig(), CASSANDRA_CONTACT_POINTS: `127.0.0.1:${proxy.port}` },
    logger,
    port: 0,
  });
  const url = usersServer.url;
  // Only users is asked anything here; the other subgraphs' URLs are never called.
  router = await startRouter({ ...testConfig(), USERS_URL: url, TWEETS_URL: url, FOLLOWS_URL: url, FEED_URL: url }, logger, 0);
});

afterAll(async () => {
  await router?.stop();
  await usersServer?.stop();
  await proxy?.close();
});

async function lookup(): Promise<{ status: number; body: GraphQLResponse; ms: number }> {
  const started = performance.now();
  const response = await fetch(router.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ user(username: "nobody_here") { id } }' }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse, ms: performance.now() - started };
}

const probe = async (path: string) => (await fetch(usersServer.url.replace(/\/graphql$/, path))).status;

describe('a subgraph whose Cassandra goes away', () => {
  it('answers SERVICE_UNAVAILABLE (503) at once, reports not ready while alive, and recovers by itself', async () => {
    expect(await lookup()).toMatchObject({ status: 200, body: { data: { user: null } } });
    expect([await probe('/healthz'), await probe('/readyz')]).toEqual([200, 200]);

    proxy.cut();
    const during = await lookup();
    expect([during.status, codes(during.body)]).toEqual([503, ['SERVICE_UNAVAILABLE']]);
    expect(during.body.errors?.[0].message).not.toMatch(/socket|host|cassandra/i);
    expect(during.ms).toBeLessThan(15_000); // the driver's read timeout (12 s) bounds it; the point is: no hang
    const again = await lookup();
    expect(codes(again.body)).toEqual(['SERVICE_UNAVAILABLE']);
    expect([await probe('/healthz'), await probe('/readyz')]).toEqual([200, 503]);

    const restoredAt = performance.now();
    proxy.restore();
    await eventually(async () => expect((await lookup()).status).toBe(200), { timeoutMs: 30_000, intervalMs: 250 });
    const recovered = (performance.now() - restoredAt) / 1000;
    await eventually(async () => expect(await probe('/readyz')).toBe(200));
    console.info(
      `Cassandra cut under a subgraph: SERVICE_UNAVAILABLE in ${Math.round(during.ms)} ms, then ${Math.round(again.ms)} ms; ` +
        `answering again ${recovered.toFixed(1)} s after the link came back`,
    );
  }, 60_000);
});
