import cassandra from 'cassandra-driver';

const { errors, types } = cassandra;

/** Cassandra answers that say "not now" rather than "not this": the same request may succeed later. */
const TRANSIENT_RESPONSE_CODES: ReadonlySet<number> = new Set([
  types.responseErrorCodes.serverError,
  types.responseErrorCodes.unavailableException,
  types.responseErrorCodes.overloaded,
  types.responseErrorCodes.isBootstrapping,
  types.responseErrorCodes.writeTimeout,
  types.responseErrorCodes.readTimeout,
  types.responseErrorCodes.readFailure,
  types.responseErrorCodes.writeFailure,
]);

/** Node's own codes for a link that is down or slow. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** Raised by our own code when a dependency is away (the bus while it reconnects). */
export class DependencyUnavailableError extends Error {
  override readonly name = 'DependencyUnavailableError';
}

/**
 * Whether an error says a dependency (Cassandra, RabbitMQ, the network) is unavailable, rather than that the work
 * itself is wrong: infrastructure failures are waited out, content failures are refused or dead-lettered.
 */
export function isInfrastructureFailure(error: unknown): boolean {
  if (error instanceof DependencyUnavailableError) return true;
  if (
    error instanceof errors.NoHostAvailableError ||
    error instanceof errors.OperationTimedOutError ||
    error instanceof errors.BusyConnectionError
  ) {
    return true;
  }
  if (error instanceof errors.ResponseError) return TRANSIENT_RESPONSE_CODES.has(error.code);
  // The driver's plain DriverError is its socket-level failure ("Socket was closed"); its subclasses say more.
  if (error instanceof errors.DriverError && error.constructor === errors.DriverError) return true;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  // fetch() fails with a TypeError whose cause is the network's error.
  const cause = (error as { cause?: unknown })?.cause;
  return cause !== undefined && cause !== error && isInfrastructureFailure(cause);
}

/** What went wrong, for a log line: every node's answer for a NoHostAvailableError, whose message names only the first. */
export function describeFailure(error: unknown): string {
  if (error instanceof errors.NoHostAvailableError)
    return Object.entries(error.innerErrors as Record<string, Error>)
      .map(([host, inner]) => `${host}: ${inner?.message ?? String(inner)}`)
      .join('; ');
  return error instanceof Error ? error.message : String(error);
}
