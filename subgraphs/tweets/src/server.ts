import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { consumeTweetsEvents } from './events.js';
import { TweetRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { TweetsService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'tweets',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, bus, outbox, rateLimits, ids }) {
    const deps = { tweets: new TweetRepository(cassandra), outbox, rateLimits, ids };
    await consumeTweetsEvents(bus, deps.tweets);
    return { resolvers, context: (scope) => ({ ...scope, services: { tweets: new TweetsService(deps, scope) } }) };
  },
};
