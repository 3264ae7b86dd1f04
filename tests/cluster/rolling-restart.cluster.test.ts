import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { TIMELINE_LENGTH } from '../../subgraphs/feed/src/repositories/trim.js';
import { eventually, feedOf, postTweet } from '../support/client.js';
import { type Audience, cluster, restartNode, startAudience, steadyLoad, wholeFeedOf } from '../support/cluster.js';

/** Every node of both clusters restarted, one at a time, as an upgrade would, while people post and read. */
let audience: Audience;

beforeAll(async () => {
  audience = await startAudience('clo', 10);
}, 300_000);

afterAll(async () => {
  await audience?.stop();
});

describe('a rolling restart of the three Cassandra nodes, then of the three RabbitMQ nodes', () => {
  it('answers every request under steady load, and every post reaches every timeline', async () => {
    const { stack, author, followers } = audience;
    const acknowledged: string[] = [];
    let posts = 0;
    const load = steadyLoad(
      {
        post: async () => acknowledged.push(await postTweet(author, `rolling ${posts++}`, stack.routerUrl)),
        read: () => feedOf(followers[posts % followers.length], 20, stack.routerUrl),
      },
      { pauseMs: 100 },
    );
    const restarts: string[] = [];
    for (const kind of ['cassandra', 'rabbitmq'] as const) {
      for (const node of [1, 2, 3]) {
        await cluster('stop-node', kind, String(node));
        restarts.push(`${kind}${node} ${(await restartNode(kind, node)).toFixed(0)} s`);
      }
    }
    const report = await load.stop();
    // What a timeline keeps: the newest TIMELINE_LENGTH posts.
    const kept = acknowledged.slice(-TIMELINE_LENGTH);
    const found = await eventually(
      async () => {
        let total = 0;
        for (const follower of followers) {
          const ids = new Set(await wholeFeedOf(follower, stack.routerUrl));
          total += kept.filter((id) => ids.has(id)).length;
        }
        expect(total).toBe(kept.length * followers.length);
        return total;
      },
      { timeoutMs: 120_000, intervalMs: 2_000 },
    );
    console.info(
      `rolling restart (${restarts.join(', ')}): ${report.requests} requests, ${report.refused.length} refused, ` +
        `${acknowledged.length} posts, entries expected ${kept.length * followers.length} found ${found}`,
    );
    expect(report.refused).toEqual([]);
  }, 900_000);
});
