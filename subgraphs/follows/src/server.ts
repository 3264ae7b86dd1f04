import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { consumeFollowsEvents } from './events.js';
import { FollowRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { FollowsService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'follows',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, bus, outbox, rateLimits, ids }) {
    const deps = { follows: new FollowRepository(cassandra), outbox, rateLimits, ids };
    await consumeFollowsEvents(bus, deps.follows);
    return { resolvers, context: (scope) => ({ ...scope, services: { follows: new FollowsService(deps, scope) } }) };
  },
};
