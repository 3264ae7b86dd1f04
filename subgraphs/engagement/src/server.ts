import { RecentCounts } from '../../../platform/limits/recent-counts.js';
import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { consumeEngagementEvents } from './events.js';
import { NO_COUNTS } from './model.js';
import { EngagementRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { EngagementService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'engagement',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, bus, outbox, rateLimits, ids }) {
    const deps = {
      engagements: new EngagementRepository(cassandra),
      outbox,
      rateLimits,
      recentCounts: new RecentCounts({ none: NO_COUNTS }),
      ids,
    };
    await consumeEngagementEvents(bus, deps.engagements);
    return { resolvers, context: (scope) => ({ ...scope, services: { engagement: new EngagementService(deps, scope) } }) };
  },
};
