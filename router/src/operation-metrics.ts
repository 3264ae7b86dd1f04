import type { ApolloServerPlugin } from '@apollo/server';

import { ErrorCode } from '../../platform/errors.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import {
  knownLabel,
  routerErrors,
  routerRequestDuration,
  routerRequests,
  secondsSince,
} from '../../platform/observability/metrics.js';

/**
 * Operation names with series of their own: those twtr's own callers send by name (bench:router's queries, the
 * operations test's mutation). Any other name counts as "other", so the label holds at most these and two more values
 * whatever clients send; a client application's operations get their own series by being named here.
 */
export const KNOWN_OPERATION_NAMES = ['Feed', 'Profile', 'OneSubgraph', 'PostTweet'] as const;
const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

const operationLabel = knownLabel(KNOWN_OPERATION_NAMES);

/** Counts one HTTP operation answered: its request, its errors by code, its duration. */
export function countOperation(
  operationName: string | null | undefined,
  type: string,
  errors: readonly { extensions?: Record<string, unknown> }[],
  startedAt: bigint,
): void {
  const labels = { operation: operationLabel(operationName), type };
  routerRequests.inc({ ...labels, outcome: errors.length ? 'error' : 'ok' });
  routerRequestDuration.observe(labels, secondsSince(startedAt));
  for (const error of errors) {
    const code = String(error.extensions?.code ?? 'NONE');
    routerErrors.inc({ operation: labels.operation, code: KNOWN_CODES.has(code) ? code : 'OTHER' });
  }
}

/** Requests, errors and duration per operation name and type (query, mutation), for every HTTP operation. */
export function operationMetrics(): ApolloServerPlugin<RequestScope> {
  return {
    async requestDidStart({ contextValue }) {
      // From when the request arrived, if the single-fetch path had it first (single-fetch.ts).
      const startedAt =
        (contextValue as { prefetched?: { receivedAt: bigint } }).prefetched?.receivedAt ?? process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, response }) {
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          countOperation(operationName, operation?.operation ?? 'invalid', errors, startedAt);
        },
      };
    },
  };
}
