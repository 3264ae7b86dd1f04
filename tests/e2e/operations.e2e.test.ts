import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { describe, expect, inject, it } from 'vitest';

import { SUBGRAPH_NAMES } from '../../platform/manifest.js';
import { KNOWN_OPERATION_NAMES } from '../../router/src/operation-metrics.js';
import { eventually, feedOf, follow, ok, signUp } from '../support/client.js';
import { parseMetrics, scrape, total } from '../support/metrics.js';

/** Where each service serves /healthz, /readyz and /metrics: the router on its operator port, a subgraph beside /graphql. */
const services = () => ({ router: inject('routerOperatorUrl'), ...inject('subgraphUrls') });
const endpoint = (url: string, path: string) => `${url.replace(/\/graphql$/, '')}${path}`;

describe('what an operator probes and scrapes', () => {
  it.each(['router', ...SUBGRAPH_NAMES])('%s serves /healthz, /readyz and /metrics', async (name) => {
    const url = services()[name as keyof ReturnType<typeof services>];
    const health = await fetch(endpoint(url, '/healthz'));
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const ready = await fetch(endpoint(url, '/readyz'));
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);

    const metrics = await fetch(endpoint(url, '/metrics'));
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await metrics.text();
    const samples = parseMetrics(text);
    // Node's process metrics, and every twtr metric described with help text.
    expect(total(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    for (const metric of ['twtr_router_requests_total', 'twtr_events_consumed_total', 'twtr_fanout_rows_written_total'])
      expect(text, metric).toMatch(new RegExp(`^# HELP ${metric} \\S`, 'm'));
  });

  it('moves when a tweet is posted: the request, the events published and consumed, the rows fanned out', async () => {
    const [author, follower] = await Promise.all([signUp('metric'), signUp('metric')]);
    await follow(follower, author);
    const router = inject('routerOperatorUrl');
    const feed = inject('subgraphUrls').feed;
    const before = { router: await scrape(router), feed: await scrape(feed) };

    const { postTweet } = await ok(`mutation PostTweet { postTweet(text: "counted") { id } }`, {}, { token: author.token });
    await eventually(async () => expect((await feedOf(follower)).map((item) => item.id)).toContain(postTweet.id));

    // Consumed and written are counted once the handler finishes, a moment after the row is readable.
    await eventually(async () => {
      const after = { router: await scrape(router), feed: await scrape(feed) };
      const moved = (service: 'router' | 'feed', name: string, labels: Record<string, string> = {}) =>
        total(after[service], name, labels) - total(before[service], name, labels);
      expect(moved('router', 'twtr_router_requests_total', { operation: 'PostTweet', type: 'mutation', outcome: 'ok' })).toBe(1);
      expect(moved('router', 'twtr_router_request_duration_seconds_count', { operation: 'PostTweet' })).toBe(1);
      expect(moved('router', 'twtr_router_subgraph_fetches_total', { subgraph: 'tweets', outcome: 'ok' })).toBeGreaterThanOrEqual(
        1,
      );
      expect(moved('router', 'twtr_subgraph_operations_total', { subgraph: 'tweets', field: 'Mutation.postTweet' })).toBe(1);
      expect(moved('router', 'twtr_events_published_total', { type: 'tweet.created' })).toBeGreaterThanOrEqual(1);
      expect(moved('router', 'twtr_events_confirmed_total', { type: 'tweet.created' })).toBeGreaterThanOrEqual(1);
      expect(moved('feed', 'twtr_events_consumed_total', { type: 'tweet.created' })).toBeGreaterThanOrEqual(1);
      // The author's own timeline and the follower's.
      expect(moved('feed', 'twtr_fanout_rows_written_total')).toBeGreaterThanOrEqual(2);
      expect(moved('feed', 'twtr_fanout_duration_seconds_count', { kind: 'tweet' })).toBeGreaterThanOrEqual(1);
    });
  });

  it('reports the outbox backlog per keyspace and the depth of each consumed queue', async () => {
    const samples = await scrape(inject('routerOperatorUrl'));
    const keyspaces = samples
      .filter((sample) => sample.name === 'twtr_outbox_lag_seconds')
      .map((sample) => sample.labels.keyspace);
    expect(keyspaces.sort()).toEqual(['engagement', 'follows', 'tweets', 'users']);
    const queues = samples.filter((sample) => sample.name === 'twtr_queue_messages').map((sample) => sample.labels.queue);
    expect(queues).toEqual(expect.arrayContaining(['feed', 'feed.dead', 'feed.fanout', 'feed.fanout.dead']));
    expect(total(samples, 'twtr_queue_consumers', { queue: 'feed' })).toBeGreaterThanOrEqual(1);
  });

  it('never lets a client grow the metrics: a flood of invented operation names all counts as "other"', async () => {
    const names = Array.from({ length: 500 }, (_, index) => `Junk${Date.now()}x${index}`);
    const otherRequests = (samples: Awaited<ReturnType<typeof scrape>>) =>
      total(samples, 'twtr_router_requests_total', { operation: 'other' });
    const before = await scrape(inject('routerOperatorUrl'));
    // Ten at a time, within what one client may have planned and in flight at once.
    for (let start = 0; start < names.length; start += 10)
      await Promise.all(names.slice(start, start + 10).map((name) => ok(`query ${name} { __typename }`)));
    const after = await scrape(inject('routerOperatorUrl'));
    // Other tests' requests may land in "other" meanwhile, never fewer than these.
    expect(otherRequests(after) - otherRequests(before)).toBeGreaterThanOrEqual(names.length);
    const labelled = (metric: string) =>
      new Set(after.filter((sample) => sample.name === metric).map((sample) => sample.labels.operation));
    for (const metric of ['twtr_router_requests_total', 'twtr_router_request_duration_seconds_count', 'twtr_router_errors_total'])
      for (const operation of labelled(metric))
        expect([...KNOWN_OPERATION_NAMES, 'other', '(anonymous)'], `${metric} ${operation}`).toContain(operation);
  });
});

describe('npm run events:status', () => {
  it("prints each queue's depth, consumers and dead letters, and each outbox's backlog, from RabbitMQ and Cassandra", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'tools/events-status.ts']);
    // The shared system consumes every queue while the tests run.
    for (const queue of ['follows', 'feed', 'feed.fanout'])
      expect(stdout).toMatch(new RegExp(`^${queue.replace('.', '\\.')} +\\d+ +[1-9]\\d* +\\d+$`, 'm'));
    for (const keyspace of ['users', 'tweets', 'follows'])
      expect(stdout).toMatch(new RegExp(`^${keyspace} +\\d+ +(-|\\d+\\.\\d s)$`, 'm'));
  }, 30_000);
});
