import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';

import { unauthenticated } from '../../platform/errors.js';
import { type VerifiedAccessToken, verifyAccessToken } from '../../platform/identity/tokens.js';

/**
 * The viewer's user id from `Authorization: Bearer <token>`; null without the header.
 * A header that is present but not a valid token is UNAUTHENTICATED, never silently anonymous.
 */
export function viewerFromHeaders(headers: IncomingHttpHeaders, jwtSecret: string): string | null {
  return accessTokenFromHeaders(headers, jwtSecret)?.userId ?? null;
}

/** The verified bearer token (viewer and expiry) from `Authorization`; null without the header. */
export function accessTokenFromHeaders(headers: IncomingHttpHeaders, jwtSecret: string): VerifiedAccessToken | null {
  const authorization = headers.authorization;
  if (!authorization) return null;
  // Bounded before the pattern runs: a token is a few hundred characters.
  const match = authorization.length <= MAX_AUTHORIZATION_LENGTH ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".', 401);
  return verifyAccessToken(match[1], jwtSecret);
}

const MAX_AUTHORIZATION_LENGTH = 4096;

/**
 * The client's address for per-client limits: the socket's peer, or, behind `trustedHops` proxies, the address that
 * many hops back in X-Forwarded-For (what Express calls `trust proxy` with a hop count). One rule for HTTP requests
 * and websocket upgrades alike.
 */
export function clientAddressOf(request: Pick<IncomingMessage, 'headers' | 'socket'>, trustedHops: number): string | null {
  const forwarded = request.headers['x-forwarded-for'];
  const chain = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? ''))
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean)
    .reverse();
  const addresses = [request.socket.remoteAddress, ...chain];
  return addresses[Math.min(trustedHops, addresses.length - 1)] ?? null;
}
