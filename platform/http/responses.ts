import type { ErrorRequestHandler, Response } from 'express';

/** Largest request body read; more is refused with 413 before it is parsed. */
export const MAX_BODY = '1mb';

/** A whole request refused before GraphQL runs, in the shape GraphQL clients read. */
export function sendGraphQLError(response: Response, status: number, code: string, message: string): void {
  response.status(status).json({ errors: [{ message, extensions: { code } }] });
}

/**
 * Bodies that cannot be read (malformed JSON, too large, a charset we do not speak) get a GraphQL-shaped 4xx rather
 * than Express's default HTML page, which would carry a stack trace outside production.
 */
export const refuseUnreadableBodies: ErrorRequestHandler = (error, _request, response, next) => {
  const status = (error as { status?: number }).status;
  if (response.headersSent || typeof status !== 'number' || status < 400 || status >= 500) return next(error);
  const message = status === 413 ? `The request body is larger than ${MAX_BODY}.` : 'The request body is not valid JSON.';
  sendGraphQLError(response, status, 'BAD_REQUEST', message);
};
