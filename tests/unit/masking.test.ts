import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '../../platform/errors.js';
import { logServerErrors, maskResult, maskUnexpectedErrors } from '../../platform/http/masking.js';
import { DependencyUnavailableError } from '../../platform/infrastructure-errors.js';
import type { Logger } from '../../platform/logging.js';

/** A logger that remembers what it was told (the rule under test is what gets logged, and how). */
function recordingLogger() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void lines.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

const fromResolver = (cause: Error) => new GraphQLError(cause.message, { path: ['feed'], originalError: cause });
const clientError = new GraphQLError('No such user.', { extensions: { code: ErrorCode.NOT_FOUND } });
const dependencyAway = fromResolver(new DependencyUnavailableError('not connected to RabbitMQ'));
const bug = fromResolver(new TypeError("Cannot read properties of undefined (reading 'id')"));

describe('errors leaving a service', () => {
  it("keep a client's code, and say SERVICE_UNAVAILABLE or INTERNAL_SERVER_ERROR without internals otherwise", () => {
    const { errors } = maskResult({ data: null, errors: [clientError, dependencyAway, bug] });
    expect(errors?.map((error) => [error.extensions?.code, error.message])).toEqual([
      [ErrorCode.NOT_FOUND, 'No such user.'],
      [ErrorCode.SERVICE_UNAVAILABLE, 'A service twtr depends on is unavailable; try again shortly.'],
      [ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error'],
    ]);
    // A 4xx refusal without a code is the client's doing.
    const refusal = new GraphQLError('PersistedQueryNotFound', { extensions: { http: { status: 400 } } });
    expect(maskUnexpectedErrors(refusal.toJSON(), refusal).extensions?.code).toBe(ErrorCode.BAD_REQUEST);
  });

  it('are logged when they are not the client’s: a dependency away at warn, a fault at error, with the correlation id', () => {
    const { logger, lines } = recordingLogger();
    logServerErrors(logger, [clientError, dependencyAway, bug], 'ticket-42');
    expect(lines.map(({ level, message, fields }) => [level, message, fields?.correlationId])).toEqual([
      ['warn', 'a dependency is unavailable', 'ticket-42'],
      ['error', 'unexpected error', 'ticket-42'],
    ]);
    expect(lines[1].fields?.error).toBeInstanceOf(TypeError);
  });
});
