import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';

import {
  issueAccessToken,
  signRequestAssertion,
  verifyAccessToken,
  verifyRequestAssertion,
} from '../../platform/identity/tokens.js';
import { clientAddressOf, viewerFromHeaders } from '../../router/src/viewer.js';

const secret = 'a test secret that is at least 32 bytes long';
const unauthenticated = expect.objectContaining({ extensions: expect.objectContaining({ code: 'UNAUTHENTICATED' }) });

describe('access tokens', () => {
  it('carry the user id and expire when they say', () => {
    const { token, expiresAt } = issueAccessToken('user-1', secret, 3600);
    expect(verifyAccessToken(token, secret)).toEqual({ userId: 'user-1', expiresAt });
    expect(Math.abs(expiresAt.getTime() - (Date.now() + 3_600_000))).toBeLessThan(2000);
    expect((jwt.decode(token) as jwt.JwtPayload).exp).toBe(expiresAt.getTime() / 1000);
  });

  it.each([
    [
      'signed with another key',
      () => jwt.sign({ sub: 'u', aud: 'twtr-api' }, 'another secret that is 32 bytes long', { expiresIn: 60 }),
    ],
    ['expired', () => jwt.sign({ sub: 'u', aud: 'twtr-api', exp: Math.floor(Date.now() / 1000) - 10 }, secret)],
    ['without exp', () => jwt.sign({ sub: 'u', aud: 'twtr-api' }, secret)],
    ['with alg none', () => jwt.sign({ sub: 'u', aud: 'twtr-api', exp: 9999999999 }, '', { algorithm: 'none' })],
    ['HS512 instead of HS256', () => jwt.sign({ sub: 'u', aud: 'twtr-api' }, secret, { algorithm: 'HS512', expiresIn: 60 })],
    [
      'a request assertion, not an access token',
      () => signRequestAssertion({ viewerId: 'u', clientAddress: null }, secret, 'users'),
    ],
    ['malformed', () => 'a.b.c'],
  ])('are refused when %s', (_case, makeToken) => {
    expect(() => verifyAccessToken(makeToken(), secret)).toThrowError(unauthenticated);
  });
});

describe('request assertions (router to subgraph)', () => {
  it('carry the viewer and client address, and verify only with the shared secret', () => {
    const assertion = signRequestAssertion({ viewerId: 'user-1', clientAddress: '203.0.113.7' }, secret, 'users');
    expect(verifyRequestAssertion(assertion, secret, 'users')).toEqual({ viewerId: 'user-1', clientAddress: '203.0.113.7' });
    expect(
      verifyRequestAssertion(signRequestAssertion({ viewerId: null, clientAddress: null }, secret, 'feed'), secret, 'feed'),
    ).toEqual({
      viewerId: null,
      clientAddress: null,
    });
    expect(() => verifyRequestAssertion(assertion, 'a different secret, also 32 bytes+', 'users')).toThrowError(unauthenticated);
    expect(() => verifyRequestAssertion(issueAccessToken('user-1', secret, 60).token, secret, 'users')).toThrowError(
      unauthenticated,
    );
  });

  it('are good only for the subgraph they were sent to', () => {
    const forUsers = signRequestAssertion({ viewerId: 'user-1', clientAddress: null }, secret, 'users');
    expect(() => verifyRequestAssertion(forUsers, secret, 'tweets')).toThrowError(unauthenticated);
  });
});

describe('the router reading Authorization', () => {
  it('is anonymous without the header and strict with it', () => {
    expect(viewerFromHeaders({}, secret)).toBeNull();
    expect(viewerFromHeaders({ authorization: `Bearer ${issueAccessToken('u1', secret, 60).token}` }, secret)).toBe('u1');
    expect(() => viewerFromHeaders({ authorization: 'Basic abc' }, secret)).toThrowError(unauthenticated);
    expect(() => viewerFromHeaders({ authorization: 'Bearer' }, secret)).toThrowError(unauthenticated);
  });
});

describe('the client address behind proxies (HTTP and websockets alike)', () => {
  const request = (forwardedFor?: string) => ({
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    socket: { remoteAddress: '10.0.0.1' },
  });

  it('is the socket peer unless proxy hops are trusted', () => {
    expect(clientAddressOf(request('203.0.113.7') as never, 0)).toBe('10.0.0.1');
  });

  it('believes exactly as many X-Forwarded-For hops as configured', () => {
    expect(clientAddressOf(request('198.51.100.9, 203.0.113.7') as never, 1)).toBe('203.0.113.7');
    expect(clientAddressOf(request('198.51.100.9, 203.0.113.7') as never, 2)).toBe('198.51.100.9');
    expect(clientAddressOf(request('203.0.113.7') as never, 5)).toBe('203.0.113.7');
    expect(clientAddressOf(request() as never, 1)).toBe('10.0.0.1');
  });
});
