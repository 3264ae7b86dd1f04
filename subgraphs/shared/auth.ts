import { createSecretKey, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthenticated } from './errors.js';

/**
 * Two kinds of token:
 * - access tokens, issued by the users subgraph to clients and verified only by the router;
 * - viewer assertions, signed by the router with a router–subgraph secret for each subgraph request,
 *   so a subgraph can trust who the viewer is and a direct call cannot impersonate anyone.
 */
const ALGORITHM = 'HS256';
const ACCESS_AUDIENCE = 'twtr-api';
const ASSERTION_AUDIENCE = 'twtr-subgraphs';
const ASSERTION_ISSUER = 'twtr-router';
const ASSERTION_TTL_SECONDS = 60;

/** The header carrying the router's viewer assertion to subgraphs; the router drops any client-sent copy. */
export const VIEWER_ASSERTION_HEADER = 'x-twtr-viewer';

// Given a string, jsonwebtoken first tries to parse it as an asymmetric key (which throws) on every call; a cached
// KeyObject skips that and was a measured 13% of the router's CPU on feed reads.
const keys = new Map<string, KeyObject>();
const keyFor = (secret: string) => {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
};

export interface AccessToken {
  token: string;
  expiresAt: Date;
}

export function issueAccessToken(userId: string, secret: string, ttlSeconds: number): AccessToken {
  const expiresAtSeconds = Math.floor(Date.now() / 1000) + ttlSeconds;
  const token = jwt.sign({ sub: userId, aud: ACCESS_AUDIENCE, exp: expiresAtSeconds }, keyFor(secret), { algorithm: ALGORITHM });
  return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
}

/** The user id in a client's bearer token; UNAUTHENTICATED for anything malformed, forged, expired or unsigned. */
export function verifyAccessToken(token: string, secret: string): string {
  return verifySubject(token, secret, { audience: ACCESS_AUDIENCE }, 'Your token is invalid or has expired.');
}

export function signViewerAssertion(userId: string, secret: string): string {
  return jwt.sign({ sub: userId }, keyFor(secret), {
    algorithm: ALGORITHM,
    audience: ASSERTION_AUDIENCE,
    issuer: ASSERTION_ISSUER,
    expiresIn: ASSERTION_TTL_SECONDS,
  });
}

export function verifyViewerAssertion(assertion: string, secret: string): string {
  return verifySubject(
    assertion,
    secret,
    { audience: ASSERTION_AUDIENCE, issuer: ASSERTION_ISSUER },
    'The viewer identity was not issued by the router.',
  );
}

function verifySubject(token: string, secret: string, claims: { audience: string; issuer?: string }, message: string): string {
  try {
    const payload = jwt.verify(token, keyFor(secret), { algorithms: [ALGORITHM], ...claims, complete: false });
    if (typeof payload === 'string' || typeof payload.sub !== 'string' || typeof payload.exp !== 'number') {
      throw new Error('token lacks sub or exp');
    }
    return payload.sub;
  } catch {
    throw unauthenticated(message, 401);
  }
}
