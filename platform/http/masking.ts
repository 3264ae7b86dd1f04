import type { ApolloServerPlugin } from '@apollo/server';
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';

import { CLIENT_ERROR_CODES, ErrorCode } from '../errors.js';
import type { RequestScope } from '../identity/request-scope.js';
import { describeFailure, isInfrastructureFailure } from '../infrastructure-errors.js';
import type { Logger } from '../logging.js';

/**
 * What an error is: the client's own doing, with its code (kept) or refused by Apollo Server without one (a 4xx
 * status), a dependency that is away, or a fault of ours.
 */
type Kind = 'client' | 'refused' | 'unavailable' | 'internal';

function kindOf(error: unknown, code: unknown): Kind {
  if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) return 'client';
  // Apollo Server's own refusals of a malformed request (e.g. a persisted query whose hash does not match) carry
  // a 4xx status but no code: they are the client's doing, not ours.
  const status = (error as { extensions?: { http?: { status?: number } } })?.extensions?.http?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) return 'refused';
  return isInfrastructureFailure(causeOf(error)) ? 'unavailable' : 'internal';
}

const causeOf = (error: unknown) => (error as { originalError?: unknown })?.originalError ?? error;

/** Keeps client-facing codes; anything else becomes INTERNAL_SERVER_ERROR or SERVICE_UNAVAILABLE, without internals. */
export function maskUnexpectedErrors(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  switch (kindOf(error, formatted.extensions?.code)) {
    case 'client':
      return formatted;
    case 'refused':
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
    case 'unavailable':
      return {
        message: 'A service twtr depends on is unavailable; try again shortly.',
        path: formatted.path,
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
      };
    case 'internal':
      return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  }
}

/**
 * Logs the errors that are not the client's, with the request's correlation id (and, inside a span, its trace id):
 * a dependency that is away at warn without a stack (expected while it is away, not an error per request), anything
 * else at error, with its stack unless `withStack` is false.
 */
export function logServerErrors(
  logger: Logger,
  errors: readonly GraphQLError[],
  correlationId: string | undefined,
  { withStack = true }: { withStack?: boolean } = {},
): void {
  for (const error of errors) {
    const kind = kindOf(error, error.extensions?.code);
    if (kind === 'unavailable')
      logger.warn('a dependency is unavailable', { error: describeFailure(causeOf(error)), path: error.path, correlationId });
    else if (kind === 'internal')
      logger.error('unexpected error', {
        error: withStack ? causeOf(error) : describeFailure(causeOf(error)).slice(0, 200),
        path: error.path,
        correlationId,
      });
  }
}

/** Apollo Server's side of `logServerErrors`: every request's errors, with the correlation id of its context. */
export function errorLogging(logger: Logger): ApolloServerPlugin<Partial<Pick<RequestScope, 'correlationId'>>> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          logServerErrors(logger, errors, contextValue?.correlationId);
        },
      };
    },
  };
}

/** A result's errors through the same masking as HTTP responses (for results sent over websockets). */
export function maskResult<T extends ExecutionResult>(result: T): T {
  if (!result.errors?.length) return result;
  return {
    ...result,
    errors: result.errors.map((error: GraphQLError) => maskUnexpectedErrors(error.toJSON?.() ?? error, error)),
  };
}

/**
 * For the router (subgraphs answer the router 200 with the error, which the gateway passes on): answers 503 when a
 * dependency being away is all that happened: every error is SERVICE_UNAVAILABLE and no field has
 * data, so clients and load balancers can tell "try again" from "you asked wrongly".
 */
export const serviceUnavailableStatus: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response }) {
        if (response.body.kind !== 'single') return;
        const { errors, data } = response.body.singleResult;
        const unavailable = errors?.length && errors.every((error) => error.extensions?.code === ErrorCode.SERVICE_UNAVAILABLE);
        const nothingAnswered = !data || Object.values(data).every((value) => value === null);
        if (unavailable && nothingAnswered) response.http.status = 503;
      },
    };
  },
};
