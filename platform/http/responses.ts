import type { ServerResponse } from 'node:http';

import type { ErrorRequestHandler } from 'express';

/** Largest request body read; more is refused with 413 before it is parsed. */
export const MAX_BODY = '1mb';
/** MAX_BODY in bytes, for the router's own body reading (graphql-lane.ts). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A JSON answer through Node's own response (the router answers some requests without Express, graphql-lane.ts). */
export function sendJson(response: ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  response.end(json);
}

/** A whole request refused before GraphQL runs, in the shape GraphQL clients read. */
export function sendGraphQLError(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(response, status, JSON.stringify({ errors: [{ message, extensions: { code } }] }), headers);
}

/** What refuseUnreadableBodies answers a body it could not read with, by status. */
export const unreadableBodyMessage = (status: number) =>
  status === 413 ? `The request body is larger than ${MAX_BODY}.` : 'The request body is not valid JSON.';

/**
 * Bodies that cannot be read (malformed JSON, too large, a charset we do not speak) get a GraphQL-shaped 4xx rather
 * than Express's default HTML page, which would carry a stack trace outside production.
 */
export const refuseUnreadableBodies: ErrorRequestHandler = (error, _request, response, next) => {
  const status = (error as { status?: number }).status;
  if (response.headersSent || typeof status !== 'number' || status < 400 || status >= 500) return next(error);
  sendGraphQLError(response, status, 'BAD_REQUEST', unreadableBodyMessage(status));
};
