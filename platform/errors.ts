import { GraphQLError } from 'graphql';

/** The error codes clients can rely on, in `extensions.code`. */
export const ErrorCode = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  RATE_LIMITED: 'RATE_LIMITED',
  /** A request that is malformed as a whole (not one field of it). */
  BAD_REQUEST: 'BAD_REQUEST',
  /** An operation over the router's depth, alias, directive or cost limits. */
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  /** A dependency (Cassandra, RabbitMQ) is unavailable right now; the same request may succeed shortly. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** An answer larger than one request may gather (ROUTER_MAX_RESPONSE_BYTES): refused whole, not truncated. */
  RESPONSE_TOO_LARGE: 'RESPONSE_TOO_LARGE',
  /** More live subscriptions than a socket or a viewer may hold. */
  TOO_MANY_SUBSCRIPTIONS: 'TOO_MANY_SUBSCRIPTIONS',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Codes a client may see with their original message; anything else is masked as an internal error. */
export const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  ErrorCode.BAD_USER_INPUT,
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.FORBIDDEN,
  ErrorCode.NOT_FOUND,
  ErrorCode.CONFLICT,
  ErrorCode.RATE_LIMITED,
  ErrorCode.QUERY_TOO_COMPLEX,
  ErrorCode.SERVICE_UNAVAILABLE,
  ErrorCode.TOO_MANY_SUBSCRIPTIONS,
  ErrorCode.RESPONSE_TOO_LARGE,
  // Produced by graphql-js / Apollo Server themselves for malformed operations.
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  ErrorCode.BAD_REQUEST,
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);

export const badUserInput = (field: string, message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.BAD_USER_INPUT, field } });

/** `httpStatus` only where the whole request is refused (the router's token check), not for one field. */
export const unauthenticated = (message = 'You must be signed in to do this.', httpStatus?: number) =>
  new GraphQLError(message, {
    extensions: { code: ErrorCode.UNAUTHENTICATED, ...(httpStatus ? { http: { status: httpStatus } } : {}) },
  });

/** A request malformed as a whole (not one field of it). */
export const badRequest = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.BAD_REQUEST } });

export const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.FORBIDDEN } });

export const notFound = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.NOT_FOUND } });

export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds } });

export const conflict = (field: string, message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.CONFLICT, field } });
