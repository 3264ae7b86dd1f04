import { afterAll, beforeAll, describe, expect, it, onTestFinished, vi } from 'vitest';

import { Fanout } from '../../subgraphs/feed/src/fanout.js';
import { eventually, postTweet } from '../support/client.js';
import { type Audience, cluster, queueLeader, restartNode, signalNode, startAudience, wholeFeedOf } from '../support/cluster.js';
import { deadLettersIn } from '../support/infra.js';
import { subscribeToFeed } from '../support/subscriptions.js';

/** A twtr of its own on the three-node RabbitMQ cluster (quorum queues on every node): broker nodes lost. */
let audience: Audience;

beforeAll(async () => {
  audience = await startAudience('clr', 10);
}, 300_000);

afterAll(async () => {
  await audience?.stop();
});

describe('the RabbitMQ node leading the quorum queues killed in the middle of 100 posts', () => {
  it('loses, dead-letters and duplicates nothing, the feed takes the posts up in order, and the node rejoins', async () => {
    const { namespace, stack, author, followers } = audience;
    const queue = `${namespace.namespace}feed`;
    const leader = await queueLeader(queue);
    let rejoinSeconds: number | undefined;
    const rejoin = async () => (rejoinSeconds ??= await restartNode('rabbitmq', leader));
    onTestFinished(async () => {
      await rejoin();
    });
    // The order the feed's consumer takes tweet.created up in (this test's twtr runs in this process), which is the
    // order live subscribers are told in. Timelines cannot show it: they are sorted by tweet id whatever the order.
    const takenUp = vi.spyOn(Fanout.prototype, 'tweetCreated');
    onTestFinished(() => takenUp.mockRestore());
    const acknowledged: string[] = [];
    let refused = 0;
    for (let n = 0; n < 100; n++) {
      if (n === 50) await signalNode('rabbitmq', leader, 'SIGKILL');
      try {
        acknowledged.push(await postTweet(author, `post ${n} while the broker leader dies`, stack.routerUrl));
      } catch {
        refused++;
      }
    }
    const killedAt = performance.now();
    const timelines = await eventually(
      async () => {
        const all = await Promise.all(followers.map((follower) => wholeFeedOf(follower, stack.routerUrl)));
        for (const ids of all) expect(ids.filter((id) => acknowledged.includes(id))).toHaveLength(acknowledged.length);
        return all;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const recoverySeconds = (performance.now() - killedAt) / 1000;
    const duplicated = timelines.reduce((sum, ids) => sum + ids.length - new Set(ids).size, 0);
    // Every acknowledged post is in the timelines, so the feed has taken each up at least once. A delivery whose channel
    // died unacknowledged is taken up again (a Set keeps its first place): the first time each was taken up is the order.
    const takenUpIds = takenUp.mock.calls
      .map(([event]) => event.data)
      .filter((tweet) => tweet.authorId === author.id)
      .map((tweet) => tweet.tweetId)
      .filter((id) => acknowledged.includes(id));
    const firstTakenUp = [...new Set(takenUpIds)];
    const inOrder = JSON.stringify(firstTakenUp) === JSON.stringify(acknowledged);
    const dead = await deadLettersIn([`${namespace.namespace}feed`, `${namespace.namespace}feed.fanout`]);
    const newLeader = await queueLeader(queue);
    await rejoin();
    console.info(
      `rabbitmq leader twtr${leader} killed after 50 of 100 posts: ${refused} refused, entries expected ` +
        `${acknowledged.length * followers.length} found ${timelines.reduce((sum, ids) => sum + ids.filter((id) => acknowledged.includes(id)).length, 0)} ` +
        `duplicated ${duplicated}, dead-lettered ${dead}, taken up by the feed in order ${inOrder} (` +
        `${takenUpIds.length - firstTakenUp.length} taken up again), new leader twtr${newLeader}, all ` +
        `delivered ${recoverySeconds.toFixed(1)} s after the last post, node rejoined ${rejoinSeconds?.toFixed(1)} s after restart`,
    );
    expect([refused, duplicated, dead]).toEqual([0, 0, 0]);
    expect(firstTakenUp).toEqual(acknowledged);
    expect(newLeader).not.toBe(leader);
  }, 300_000);
});

describe("the RabbitMQ node holding a feed replica's live queue killed", () => {
  it('leaves live subscribers receiving, after a short gap', async () => {
    const { stack, author, followers } = audience;
    const watcher = followers[0];
    const subscription = await subscribeToFeed(watcher, stack.routerUrl);
    try {
      // Exclusive live queues live on the node their connection is on; this system's feed is the one consuming.
      const nodes: number[] = [];
      for (const node of [1, 2, 3]) {
        const local = JSON.parse(
          await cluster('rabbitmqctl', String(node), 'list_queues', '--local', 'name', 'exclusive', '--formatter', 'json'),
        ) as { exclusive: unknown }[];
        if (local.some((queue) => String(queue.exclusive) === 'true')) nodes.push(node);
      }
      expect(nodes.length).toBeGreaterThan(0);
      const victim = nodes[0];
      let rejoinSeconds: number | undefined;
      const rejoin = async () => (rejoinSeconds ??= await restartNode('rabbitmq', victim));
      onTestFinished(async () => {
        await rejoin();
      });
      await signalNode('rabbitmq', victim, 'SIGKILL');
      const killedAt = performance.now();
      // Keep posting until one arrives live: the gap is how long live delivery was away. The subscription itself must
      // not end (an error event fails the test).
      const posted = new Set<string>();
      let gapSeconds = 0;
      while (!gapSeconds) {
        expect(performance.now() - killedAt).toBeLessThan(60_000);
        posted.add(await postTweet(author, `live after the node died ${posted.size}`, stack.routerUrl));
        const event = await subscription.next(2_000).catch(() => undefined);
        expect(event?.error).toBeUndefined();
        if (posted.has(event?.data?.feedItemAdded?.id)) gapSeconds = (performance.now() - killedAt) / 1000;
      }
      await rejoin();
      const after = await postTweet(author, 'live once the node is back', stack.routerUrl);
      // Posts from the gap may still arrive first, late; nothing else may.
      let event = await subscription.next(10_000);
      while (posted.has(event.data?.feedItemAdded?.id)) event = await subscription.next(10_000);
      expect(event.data.feedItemAdded.id).toBe(after);
      console.info(
        `rabbitmq node twtr${victim} holding live queues killed: live delivery back after ${gapSeconds.toFixed(1)} s, ` +
          `node rejoined ${rejoinSeconds?.toFixed(1)} s after restart`,
      );
    } finally {
      await subscription.close();
    }
  }, 180_000);
});
