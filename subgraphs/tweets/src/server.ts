import type { Config } from '../../../platform/config.js';
import type { Logger } from '../../../platform/logging.js';
import { startSubgraph, type SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { TweetRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { TweetsService } from './service.js';

export const tweetsSubgraph: SubgraphDefinition<Context> = {
  name: 'tweets',
  publishesEvents: true,
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, outbox, rateLimits }) {
    const deps = { tweets: new TweetRepository(cassandra), outbox, rateLimits };
    return { resolvers, context: (scope) => ({ ...scope, services: { tweets: new TweetsService(deps, scope) } }) };
  },
};

export const startTweets = (config: Config, logger: Logger, port = config.TWEETS_PORT) =>
  startSubgraph(tweetsSubgraph, { config, logger, port });
