import '../../router/src/no-telemetry.js';
import { loadConfig, type Config } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import type { RunningServer } from '../../platform/http/subgraph-server.js';
import { startFeed } from '../../subgraphs/feed/src/server.js';
import { startFollows } from '../../subgraphs/follows/src/server.js';
import { startTweets } from '../../subgraphs/tweets/src/server.js';
import { startUsers } from '../../subgraphs/users/src/server.js';
import { startRouter } from '../../router/src/server.js';

export interface Stack {
  routerUrl: string;
  subgraphUrls: { users: string; tweets: string; follows: string; feed: string };
  config: Config;
  stop(): Promise<void>;
}

/** The whole system in this process on free ports, against the real Cassandra and RabbitMQ. */
export async function startStack(env: NodeJS.ProcessEnv = process.env): Promise<Stack> {
  const baseConfig = loadConfig(env);
  const logger = createLogger(baseConfig.LOG_LEVEL);
  const [users, tweets, follows, feed] = await Promise.all([
    startUsers(baseConfig, logger, 0),
    startTweets(baseConfig, logger, 0),
    startFollows(baseConfig, logger, 0),
    startFeed(baseConfig, logger, 0),
  ]);
  const config: Config = {
    ...baseConfig,
    USERS_URL: users.url,
    TWEETS_URL: tweets.url,
    FOLLOWS_URL: follows.url,
    FEED_URL: feed.url,
  };
  const router = await startRouter(config, logger, 0);
  const servers: RunningServer[] = [router, users, tweets, follows, feed];
  return {
    routerUrl: router.url,
    subgraphUrls: { users: users.url, tweets: tweets.url, follows: follows.url, feed: feed.url },
    config,
    stop: async () => {
      for (const server of servers) await server.stop();
    },
  };
}
