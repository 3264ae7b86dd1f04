import type { ApolloServerPlugin } from '@apollo/server';
import type { ExecutionResult, GraphQLError, GraphQLFormattedError } from 'graphql';

import { CLIENT_ERROR_CODES, ErrorCode } from '../errors.js';
import { isInfrastructureFailure } from '../infrastructure-errors.js';
import type { Logger } from '../logging.js';

/** Keeps client-facing codes; anything else becomes INTERNAL_SERVER_ERROR without internals, logged. */
export function maskUnexpectedErrors(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) return formatted;
    // Apollo Server's own refusals of a malformed request (e.g. a persisted query whose hash does not match) carry
    // a 4xx status but no code: they are the client's doing, not ours.
    const status = (error as { extensions?: { http?: { status?: number } } })?.extensions?.http?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.BAD_REQUEST } };
    }
    const cause = (error as { originalError?: unknown })?.originalError ?? error;
    if (isInfrastructureFailure(cause)) {
      // Expected while a dependency is away: no stack, not an error-level log per request.
      logger.warn('a dependency is unavailable', { error: (cause as Error).message, path: formatted.path });
      return {
        message: 'A service twtr depends on is unavailable; try again shortly.',
        path: formatted.path,
        extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
      };
    }
    logger.error('unexpected error', { error: cause, path: formatted.path });
    return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
  };
}

type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

/** A result's errors through the same masking as HTTP responses (for results sent over websockets). */
export function maskResult<T extends ExecutionResult>(result: T, format: FormatError): T {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((error: GraphQLError) => format(error.toJSON?.() ?? error, error)) };
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
