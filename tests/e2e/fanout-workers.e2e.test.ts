import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../platform/logging.js';
import { type RunningServer, startSubgraph } from '../../platform/runtime.js';
import { eventually, feedOf, follow, ok, postTweet, signUp, type TestUser } from '../support/client.js';
import { queueState } from '../support/infra.js';
import { scrape, total } from '../support/metrics.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { type Stack, startStack, subgraphDefinition } from '../support/stack.js';

/**
 * The feed split as in production: a replica consuming the main queue only (FEED_QUEUES=feed), and a fan-out worker
 * (FEED_QUEUES=feed.fanout) that starts later. The tests' fan-out numbers send audiences of more than 2 through
 * work items.
 */
let isolated: IsolatedNamespace;
let stack: Stack;
let worker: RunningServer | undefined;

beforeAll(async () => {
  isolated = await isolatedNamespace('w');
  stack = await startStack(isolated.env, { feed: { FEED_QUEUES: ['feed'] } });
}, 180_000);

// Each test starts the worker when its work items are queued.
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});

afterAll(async () => {
  await stack?.stop();
  await isolated?.remove();
}, 60_000);

/** `count` new followers of `followee`, once the main queue has applied each follow. */
async function followersOf(followee: TestUser, count: number, url: string): Promise<TestUser[]> {
  const followers = await Promise.all(Array.from({ length: count }, () => signUp('workers', 'Follower', url)));
  // Posted while nobody follows; each follow then backfills it, which shows the main queue applied the follow.
  const before = await postTweet(followee, 'before the followers', url);
  for (const follower of followers) await follow(follower, followee, url);
  for (const follower of followers)
    await eventually(async () => expect((await feedOf(follower, 5, url)).map((item) => item.id)).toContain(before));
  return followers;
}

describe('fan-out workers', () => {
  it('take big fan-outs off the main replica: work items wait for a worker, then reach every follower', async () => {
    const url = stack.routerUrl;
    const author = await signUp('workers', 'Author', url);
    const followers = await followersOf(author, 4, url);

    const posted = await postTweet(author, 'to four followers, through work items', url);
    await eventually(async () => expect((await queue('feed.fanout')).messages).toBeGreaterThan(0));
    expect((await feedOf(followers[0], 5, url)).map((item) => item.id)).not.toContain(posted);
    // The main replica reports the queue it leaves to workers, so "no consumers" can alert.
    const workQueue = { queue: `${isolated.namespace}feed.fanout` };
    const metrics = await scrape(stack.subgraphUrls.feed);
    expect(metrics.filter((sample) => sample.name === 'twtr_queue_consumers' && sample.labels.queue === workQueue.queue)).toEqual(
      [expect.objectContaining({ value: 0 })],
    );
    expect(total(metrics, 'twtr_queue_messages', workQueue)).toBeGreaterThan(0);

    await startWorker();
    for (const follower of followers)
      await eventually(async () => expect((await feedOf(follower, 5, url)).map((item) => item.id)).toContain(posted));
    expect(await queue('feed')).toMatchObject({ consumers: 1 });
    expect(await queue('feed.fanout')).toEqual({ messages: 0, consumers: 1 });
  }, 60_000);

  it('write no repost whose original was deleted while its work items waited', async () => {
    const url = stack.routerUrl;
    const [author, booster] = await Promise.all([signUp('ghost', 'Author', url), signUp('ghost', 'Booster', url)]);
    const fans = await followersOf(booster, 5, url);
    const doomed = await postTweet(author, 'reposted, then deleted', url);
    await eventually(async () => expect((await feedOf(author, 5, url)).map((item) => item.id)).toContain(doomed));

    // The booster and five fans: three work items of at most three, left waiting for a worker.
    const waiting = (await queue('feed.fanout')).messages;
    await ok(`mutation ($id: ID!) { repost(tweetId: $id) { id } }`, { id: doomed }, { token: booster.token, url });
    await eventually(async () => expect((await queue('feed.fanout')).messages).toBe(waiting + 3));
    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: doomed }, { token: author.token, url });
    await eventually(async () => expect((await feedOf(author, 5, url)).map((item) => item.id)).not.toContain(doomed));

    const repostsApplied = async () =>
      total(await scrape(stack.subgraphUrls.feed), 'twtr_fanout_duration_seconds_count', { kind: 'repost' });
    const applied = await repostsApplied();
    await startWorker();
    await eventually(async () => expect(await repostsApplied()).toBe(applied + 3));
    const holding: string[] = [];
    for (const user of [booster, ...fans])
      if ((await feedOf(user, 5, url)).some((item) => item.id === doomed)) holding.push(user.username);
    expect(holding).toEqual([]);
  }, 60_000);
});

const queue = (name: string) => queueState(`${isolated.namespace}${name}`);

/** A fan-out worker beside the main replica (FEED_QUEUES=feed.fanout), in this process: metrics are shared. */
async function startWorker(): Promise<void> {
  const config = { ...stack.config, FEED_QUEUES: ['feed.fanout' as const] };
  worker = await startSubgraph(await subgraphDefinition('feed'), { config, logger: createLogger('error'), port: 0 });
}
