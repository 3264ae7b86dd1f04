import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually, feedOf, follow, ok, postTweet, signUp } from '../support/client.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { freePort, startSystemProcesses, type SystemProcesses } from '../support/processes.js';

/**
 * The production build (`npm run build`: tsc to dist/) run with plain node, as the image runs it, exporting traces
 * over OTLP/HTTP to a collector of the test's own on loopback.
 */
let isolated: IsolatedNamespace;
let system: SystemProcesses;
let collector: Server;
/** Spans the collector received: which service sent each, its trace and its name. */
const exported: { service: string; traceId: string; name: string }[] = [];

beforeAll(async () => {
  collector = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      if (request.url === '/v1/traces') {
        for (const resourceSpans of JSON.parse(body).resourceSpans ?? []) {
          const service = resourceSpans.resource.attributes.find((attribute: any) => attribute.key === 'service.name');
          for (const { spans } of resourceSpans.scopeSpans)
            for (const span of spans)
              exported.push({ service: service?.value.stringValue, traceId: span.traceId, name: span.name });
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  await promisify(execFile)('bash', ['scripts/build.sh']);
  isolated = await isolatedNamespace('b', {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_BSP_SCHEDULE_DELAY: '200',
  });
  system = await startSystemProcesses(isolated.env, { compiled: 'dist' });
}, 180_000);

afterAll(async () => {
  await system?.stop();
  await isolated?.remove();
  collector?.close();
}, 60_000);

describe('the compiled services', () => {
  it('run without tsx and serve the whole product: sign-up, follow, post, feed', async () => {
    for (const child of Object.values(system.children)) expect(child.spawnargs.join(' ')).not.toMatch(/tsx|\.ts\b/);
    const [author, reader] = await Promise.all([
      signUp('built', 'Built', system.routerUrl),
      signUp('built', 'Reader', system.routerUrl),
    ]);
    await follow(reader, author, system.routerUrl);
    const tweetId = await postTweet(author, 'from the compiled build', system.routerUrl);
    await eventually(async () => expect((await feedOf(reader, 5, system.routerUrl)).map((item) => item.id)).toContain(tweetId), {
      timeoutMs: 20_000,
    });
  }, 60_000);

  it('answer the probes the image and the cluster use', async () => {
    // The router on its operator port only, subgraphs beside their /graphql.
    for (const url of [system.routerOperatorUrl, ...Object.values(system.subgraphUrls)]) {
      for (const path of ['/healthz', '/readyz', '/metrics'])
        expect((await fetch(`${url.replace(/\/graphql$/, '')}${path}`)).status, `${url} ${path}`).toBe(200);
    }
    for (const path of ['/healthz', '/readyz', '/metrics'])
      expect((await fetch(system.routerUrl.replace(/\/graphql$/, path))).status, `public ${path}`).toBe(404);
    // The image's health check command: 0 while the service is ready, 1 where nothing answers.
    const probe = (url: string) =>
      promisify(execFile)(process.execPath, ['dist/tools/probe.js', url]).then(
        () => 0,
        (failure: { code: number }) => failure.code,
      );
    expect(await probe(system.subgraphUrls.feed.replace(/\/graphql$/, '/readyz'))).toBe(0);
    expect(await probe(`http://127.0.0.1:${await freePort()}/healthz`)).toBe(1);
  });

  it('export one trace per postTweet over OTLP, across the router, tweets and feed processes', async () => {
    const [author, reader] = await Promise.all([
      signUp('otlp', 'Exporter', system.routerUrl),
      signUp('otlp', 'Reader', system.routerUrl),
    ]);
    await follow(reader, author, system.routerUrl);
    const traceId = randomBytes(16).toString('hex');
    const { postTweet: posted } = await ok(
      'mutation { postTweet(text: "exported") { id } }',
      {},
      {
        token: author.token,
        url: system.routerUrl,
        headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      },
    );
    await eventually(async () => expect((await feedOf(reader, 5, system.routerUrl)).map((item) => item.id)).toContain(posted.id));
    await eventually(async () => {
      const spans = exported.filter((span) => span.traceId === traceId).map((span) => `${span.service}: ${span.name}`);
      expect(spans).toEqual(
        expect.arrayContaining([
          'twtr-router: POST /graphql',
          'twtr-router: fetch tweets',
          'twtr-tweets: POST /graphql',
          'twtr-tweets: outbox relay tweet.created',
          expect.stringMatching(/^twtr-feed: consume \w+feed tweet\.created$/),
          'twtr-feed: timeline writes',
        ]),
      );
    });
  }, 60_000);
});
