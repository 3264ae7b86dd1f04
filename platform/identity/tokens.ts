import { createSecretKey, type KeyObject } from 'node:crypto';

import jwt from 'jsonwebtoken';

import { unauthenticated } from '../errors.js';
import { textKeyedCache } from '../limits/text-keyed-cache.js';
import type { AssertedIdentity } from './request-scope.js';

/**
 * Two kinds of token:
 * - access tokens, issued by the users subgraph to clients and verified only by the router;
 * - request assertions, signed by the router with a router–subgraph secret on every subgraph request, saying who the
 *   viewer is (if anyone) and where the request came from, so a direct call to a subgraph cannot impersonate anyone.
 */
const ALGORITHM = 'HS256';
const ACCESS_AUDIENCE = 'twtr-api';
/** An assertion is good for the one subgraph it was sent to: one captured on its way to users is refused by tweets. */
const assertionAudience = (subgraph: string) => `twtr-subgraph:${subgraph}`;
const ASSERTION_ISSUER = 'twtr-router';
/** How long an assertion is good for, unless the router is configured otherwise (ROUTER_ASSERTION_TTL_SECONDS). */
export const ASSERTION_TTL_SECONDS = 60;

/** The header carrying the router's request assertion to subgraphs; the router never forwards a client's copy. */
export const REQUEST_ASSERTION_HEADER = 'x-twtr-assertion';

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
  const token = jwt.sign({ sub: userId, aud: ACCESS_AUDIENCE, exp: expiresAtSeconds }, keyFor(secret), {
    algorithm: ALGORITHM,
  });
  return { token, expiresAt: new Date(expiresAtSeconds * 1000) };
}

/** Who a client's bearer token names, and until when. */
export interface VerifiedAccessToken {
  userId: string;
  expiresAt: Date;
}

/** A client's bearer token; UNAUTHENTICATED for anything malformed, forged, expired or unsigned. */
export function verifyAccessToken(token: string, secret: string): VerifiedAccessToken {
  const payload = verify(token, secret, { audience: ACCESS_AUDIENCE }, 'Your token is invalid or has expired.');
  if (typeof payload.sub !== 'string' || !payload.sub) throw unauthenticated('Your token is invalid or has expired.', 401);
  return { userId: payload.sub, expiresAt: new Date(payload.exp! * 1000) };
}

export function signRequestAssertion(
  assertion: AssertedIdentity,
  secret: string,
  subgraph: string,
  ttlSeconds = ASSERTION_TTL_SECONDS,
): string {
  const claims = {
    ...(assertion.viewerId ? { sub: assertion.viewerId } : {}),
    ...(assertion.clientAddress ? { ip: assertion.clientAddress } : {}),
  };
  return jwt.sign(claims, keyFor(secret), {
    algorithm: ALGORITHM,
    audience: assertionAudience(subgraph),
    issuer: ASSERTION_ISSUER,
    expiresIn: ttlSeconds,
  });
}

export function verifyRequestAssertion(assertion: string, secret: string, subgraph: string): AssertedIdentity {
  return verifiedAssertion(assertion, secret, subgraph).identity;
}

function verifiedAssertion(assertion: string, secret: string, subgraph: string) {
  const payload = verify(
    assertion,
    secret,
    { audience: assertionAudience(subgraph), issuer: ASSERTION_ISSUER },
    'The request identity was not issued by the router.',
  );
  const identity: AssertedIdentity = {
    viewerId: typeof payload.sub === 'string' && payload.sub ? payload.sub : null,
    clientAddress: typeof payload.ip === 'string' && payload.ip ? payload.ip : null,
  };
  return { identity, expiresAtMs: payload.exp! * 1000 };
}

/**
 * verifyRequestAssertion for one subgraph, remembering what it verified until it expires. The router reuses an
 * assertion per viewer and address for half its life, so most of a subgraph's requests carry one verified moments
 * ago; verifying it again (a JSON parse, an HMAC, the claims) was 5% of a subgraph's CPU on a feed page. Only the
 * router can sign one, and the cache is bounded in entries and characters, so no client can fill it.
 */
export function requestAssertionVerifier(secret: string, subgraph: string): (assertion: string) => AssertedIdentity {
  const verified = textKeyedCache<{ identity: AssertedIdentity; expiresAtMs: number }>({
    maxEntries: 10_000,
    maxCharacters: 8 << 20,
  });
  return (assertion) => {
    const known = verified.get(assertion);
    if (known && known.expiresAtMs > Date.now()) return known.identity;
    const fresh = verifiedAssertion(assertion, secret, subgraph);
    verified.set(assertion, fresh, { ttl: Math.max(1, fresh.expiresAtMs - Date.now()) });
    return fresh.identity;
  };
}

function verify(token: string, secret: string, claims: { audience: string; issuer?: string }, message: string): jwt.JwtPayload {
  try {
    const payload = jwt.verify(token, keyFor(secret), { algorithms: [ALGORITHM], ...claims, complete: false });
    if (typeof payload === 'string' || typeof payload.exp !== 'number') throw new Error('token lacks exp');
    return payload;
  } catch {
    throw unauthenticated(message, 401);
  }
}
