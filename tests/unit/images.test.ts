import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { compiledEntry, entryOf, ROUTER_ENTRY, SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { ownHealthUrl } from '../../tools/probe.js';

const ROOT = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
const compiled = (entry: string) => `dist/${compiledEntry(entry)}`;

describe('the production image (Dockerfile)', () => {
  const stages = read('Dockerfile')
    .split(/^FROM /m)
    .slice(1)
    .map((stage) => `FROM ${stage}`);
  const runtime = stages.at(-1)!;

  it('builds in one stage and runs compiled code with plain node in another, on pinned base images', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.some((stage) => /RUN npm run build/.test(stage))).toBe(true);
    for (const stage of stages) expect(stage).toMatch(/^FROM node:\d+\.\d+[\w.-]*( AS [\w-]+)?\n/);
    expect(runtime).toMatch(/^CMD \["node", "dist\/router\/src\/index\.js"\]$/m);
    expect(runtime).not.toMatch(/tsx|\.ts\b/);
  });

  it('copies into the build stage everything the build reads: what tsconfig.build.json compiles, and the build script', () => {
    const build = stages.find((stage) => /RUN npm run build/.test(stage))!;
    const copied = [...build.matchAll(/^COPY (?!--from)(\S+(?: \S+)*) \S+$/gm)].flatMap(([, sources]) => sources.split(' '));
    const { include, extends: base } = JSON.parse(read('tsconfig.build.json')) as { include: string[]; extends: string };
    const needed = [
      'package.json',
      'package-lock.json',
      base.replace(/^\.\//, ''),
      'tsconfig.build.json',
      'scripts/build.sh',
      ...include.map((path) => path.split('/')[0]),
    ];
    const isCopied = (path: string) => copied.some((source) => path === source || path.startsWith(`${source}/`));
    expect(needed.filter((path) => !isCopied(path))).toEqual([]);
  });

  it('carries production dependencies only, runs as a non-root user and has a HEALTHCHECK', () => {
    const dependencyStage = stages.find((stage) => /npm ci/.test(stage) && stage !== stages[0])!;
    expect(dependencyStage).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*CMD \["node", "dist\/tools\/probe\.js"\]$/m);
    expect(runtime).toMatch(/APOLLO_TELEMETRY_DISABLED=true/);
  });
});

describe("the image's HEALTHCHECK without a URL", () => {
  it('probes /healthz of the service the container runs, on its port (the router: its operator port)', () => {
    expect(ownHealthUrl('node dist/router/src/index.js', {})).toBe('http://127.0.0.1:9400/healthz');
    expect(ownHealthUrl('node dist/subgraphs/feed/src/index.js', {})).toBe('http://127.0.0.1:4004/healthz');
    expect(ownHealthUrl('node dist/subgraphs/users/src/index.js', { USERS_PORT: '8080' })).toBe('http://127.0.0.1:8080/healthz');
    expect(
      ownHealthUrl('node dist/router/src/index.js', { ROUTER_PORT: '8080', ROUTER_OPERATOR_PORT: '9401', USERS_PORT: '9' }),
    ).toBe('http://127.0.0.1:9401/healthz');
  });
});

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, { command?: string[]; healthcheck?: { test?: string[]; disable?: boolean }; depends_on?: unknown }>;
  };
  const entries: Record<string, string> = {
    router: ROUTER_ENTRY,
    ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, entryOf(name)])),
  };

  it.each(Object.keys(entries))('runs %s compiled, with a health check on its own /readyz', (name) => {
    const service = compose.services[name];
    expect(service.command).toEqual(['node', compiled(entries[name])]);
    expect(service.healthcheck?.test?.slice(0, 3)).toEqual(['CMD', 'node', 'dist/tools/probe.js']);
    expect(service.healthcheck?.test?.[3]).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/readyz$/);
  });

  it('probes the router on its operator port, which it does not publish', () => {
    const router = compose.services.router as { healthcheck?: { test?: string[] }; ports?: string[] };
    expect(router.healthcheck?.test?.[3]).toBe('http://127.0.0.1:9400/readyz');
    expect(router.ports).toEqual(['127.0.0.1:4000:4000']);
  });

  it('runs the feed as in Kubernetes: the main queue in feed, bulk fan-out in feed-fanout', () => {
    const feedQueues = (name: string) =>
      (compose.services[name] as { environment?: Record<string, string> }).environment?.FEED_QUEUES;
    expect([feedQueues('feed'), feedQueues('feed-fanout')]).toEqual(['feed', 'feed.fanout']);
    expect(compose.services['feed-fanout'].command).toEqual(compose.services.feed.command);
    expect((compose.services.feed as { environment?: Record<string, string> }).environment?.JWT_SECRET).toBeTruthy();
  });

  it('starts the router once every subgraph is healthy', () => {
    expect(compose.services.router.depends_on).toEqual(
      Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, { condition: 'service_healthy' }])),
    );
  });
});
