import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import { type RunningServer, startSubgraph } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import { subgraph as feed } from '../../subgraphs/feed/src/server.js';
import { eventually, postTweet, sharedSubgraphUrls, signUp } from '../support/client.js';
import { freePort } from '../support/processes.js';
import { subscribeToFeed } from '../support/subscriptions.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * A router whose feed replica restarts under live subscriptions older than the router's assertions last (2 s here):
 * the router reconnects, resubscribes with freshly signed assertions, and the subscribers never notice.
 */
const logger = createLogger('error');
const config = { ...loadConfig(), ROUTER_ASSERTION_TTL_SECONDS: 2 };
let feedPort: number;
let feedReplica: RunningServer;
let router: RunningServer;

beforeAll(async () => {
  feedPort = await freePort();
  feedReplica = await startSubgraph(feed, { config, logger, port: feedPort });
  router = await startRouter({ ...config, ...sharedSubgraphUrls(), FEED_URL: feedReplica.url }, logger, 0);
});

afterAll(async () => {
  await router?.stop();
  await feedReplica?.stop();
});

describe('live delivery across a feed replica restart', () => {
  it('keeps delivering to subscriptions older than their assertions, without the client reconnecting', async () => {
    const author = await signUp('restart');
    const subscription = await subscribeToFeed(author, router.url);
    try {
      // Older than any assertion the router signed for it.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      await feedReplica.stop();
      const restartedAt = performance.now();
      feedReplica = await startSubgraph(feed, { config, logger, port: feedPort });

      // Posts until one arrives live: the router resubscribes after its reconnect back-off.
      const arrived = await eventually(
        async () => {
          const tweetId = await postTweet(author, 'after the restart');
          const event = await subscription.next(2_000);
          expect(event.error).toBeUndefined();
          expect(event.errors).toBeUndefined();
          return { tweetId, event };
        },
        { timeoutMs: 30_000, intervalMs: 0 },
      );
      console.info(
        `live delivery resumed ${((performance.now() - restartedAt) / 1000).toFixed(1)} s after the feed replica restarted`,
      );
      expect(arrived.event.data.feedItemAdded.text).toBe('after the restart');
    } finally {
      await subscription.close();
    }
  }, 60_000);

  it('notices a half-open link to its feed replica within seconds and resubscribes over a new one', async () => {
    // A second router reaches the same replica through a proxy that can make its open link go silent.
    const link = await startTcpProxy(feedPort);
    const throughLink = await startRouter(
      { ...config, ...sharedSubgraphUrls(), FEED_URL: `http://127.0.0.1:${link.port}/graphql` },
      logger,
      0,
    );
    const author = await signUp('halfopen');
    const subscription = await subscribeToFeed(author, throughLink.url);
    try {
      link.blackholeOpenConnections();
      const silencedAt = performance.now();
      const arrived = await eventually(
        async () => {
          await postTweet(author, 'over a new link');
          const event = await subscription.next(2_000);
          expect(event.error ?? event.errors).toBeUndefined();
          return event;
        },
        { timeoutMs: 40_000, intervalMs: 0 },
      );
      console.info(
        `half-open link: live delivery resumed ${((performance.now() - silencedAt) / 1000).toFixed(1)} s after the link went silent`,
      );
      expect(arrived.data.feedItemAdded.text).toBe('over a new link');
    } finally {
      await subscription.close();
      await throughLink.stop();
      await link.close();
    }
  }, 60_000);
});
