import type { IncomingHttpHeaders } from 'node:http';
import { verifyAccessToken } from '../../subgraphs/shared/auth.js';
import { unauthenticated } from '../../subgraphs/shared/errors.js';

/**
 * The viewer's user id from `Authorization: Bearer <token>`; null without the header.
 * A header that is present but not a valid token is UNAUTHENTICATED, never silently anonymous.
 */
export function viewerFromHeaders(headers: IncomingHttpHeaders, jwtSecret: string): string | null {
  const authorization = headers.authorization;
  if (!authorization) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".', 401);
  return verifyAccessToken(match[1], jwtSecret);
}
