import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import type { RequestHandler, Response } from 'express';

/**
 * Who is asking, from where, and which request: what the router learns from a client and what every subgraph
 * receives from the router (as a signed assertion), before each adds its own per-request context.
 */
export interface RequestScope {
  /** The signed-in user; null for anonymous requests. */
  viewerId: string | null;
  /** The client's address as the router saw it (for per-address limits); null when unknown. */
  clientAddress: string | null;
  /** Ties logs and events to the client request that caused them. */
  correlationId: string;
}

/** The part of a scope the router vouches for to a subgraph (tokens.ts signs and verifies it). */
export type AssertedIdentity = Pick<RequestScope, 'viewerId' | 'clientAddress'>;

export const CORRELATION_HEADER = 'x-correlation-id';

/** The caller's correlation id when it sent a sensible one, else a new one. */
export function correlationIdFrom(headers: IncomingHttpHeaders): string {
  return sensibleCorrelationId(headers[CORRELATION_HEADER]);
}

/** `value` when it is a sensible correlation id (up to 128 of A-Za-z0-9_.:-), else a new one. */
export function sensibleCorrelationId(value: unknown): string {
  return typeof value === 'string' && /^[\w.:-]{1,128}$/.test(value) ? value : newCorrelationId();
}

/**
 * A new correlation id. Node builds a UUID by concatenation: 14 string pieces (450 bytes) where one flat string is 56,
 * for as long as the operation lives (a live subscription's, for hours). toLowerCase() makes it flat.
 */
export function newCorrelationId(): string {
  return randomUUID().toLowerCase();
}

/**
 * Gives each HTTP request its correlation id (the caller's, or a new one) and answers it in the x-correlation-id
 * header, so a client can quote it and an operator find the request's log lines and trace.
 */
export const correlateRequests: RequestHandler = (request, response, next) => {
  const correlationId = correlationIdFrom(request.headers);
  response.locals.correlationId = correlationId;
  response.setHeader(CORRELATION_HEADER, correlationId);
  next();
};

/** The correlation id `correlateRequests` gave this request. */
export const correlationIdOf = (response: Response): string => response.locals.correlationId as string;
