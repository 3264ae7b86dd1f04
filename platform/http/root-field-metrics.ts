import type { ApolloServerPlugin } from '@apollo/server';
import { Kind } from 'graphql';

import { secondsSince, subgraphOperationDuration, subgraphOperations } from '../observability/metrics.js';

/**
 * Counts and times each root field a subgraph resolves (`Query.homeTimeline`, `Mutation.postTweet`,
 * `Query._entities` …). Field names come from the validated operation, so they are bounded by the schema; a request
 * that never got that far counts once as `invalid`.
 */
export function rootFieldMetrics(subgraph: string): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const startedAt = process.hrtime.bigint();
      let fields = ['invalid'];
      return {
        async didResolveOperation({ operation, schema }) {
          if (!operation) return;
          const rootType = schema.getRootType(operation.operation)?.name ?? operation.operation;
          fields = operation.selectionSet.selections.flatMap((selection) =>
            selection.kind === Kind.FIELD ? [`${rootType}.${selection.name.value}`] : [],
          );
        },
        async willSendResponse({ response }) {
          const failed = response.body.kind === 'single' && Boolean(response.body.singleResult.errors?.length);
          const seconds = secondsSince(startedAt);
          for (const field of new Set(fields)) {
            subgraphOperations.inc({ subgraph, field, outcome: failed ? 'error' : 'ok' });
            subgraphOperationDuration.observe({ subgraph, field }, seconds);
          }
        },
      };
    },
  };
}
