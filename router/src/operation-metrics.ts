import type { ApolloServerPlugin } from '@apollo/server';

import { ErrorCode } from '../../platform/errors.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import {
  boundedLabel,
  routerErrors,
  routerRequestDuration,
  routerRequests,
  secondsSince,
} from '../../platform/observability/metrics.js';

/** Distinct operation names a router tracks before the rest share "other". */
const MAX_OPERATION_NAMES = 200;
const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'PERSISTED_QUERY_NOT_FOUND',
]);

/** Requests, errors and duration per operation name and type (query, mutation), for every HTTP operation. */
export function operationMetrics(): ApolloServerPlugin<RequestScope> {
  const operationLabel = boundedLabel(MAX_OPERATION_NAMES);
  return {
    async requestDidStart() {
      const startedAt = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, response }) {
          const labels = { operation: operationLabel(operationName), type: operation?.operation ?? 'invalid' };
          const errors = response.body.kind === 'single' ? (response.body.singleResult.errors ?? []) : [];
          routerRequests.inc({ ...labels, outcome: errors.length ? 'error' : 'ok' });
          routerRequestDuration.observe(labels, secondsSince(startedAt));
          for (const error of errors) {
            const code = String(error.extensions?.code ?? 'NONE');
            routerErrors.inc({ operation: labels.operation, code: KNOWN_CODES.has(code) ? code : 'OTHER' });
          }
        },
      };
    },
  };
}
