import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';

import { codes, gql, ok, signUp, uniqueUsername } from '../support/client.js';

const SIGN_UP = `mutation ($username: String!, $password: String!, $displayName: String!) {
  signUp(username: $username, password: $password, displayName: $displayName) { token expiresAt user { id username displayName } }
}`;
const LOG_IN = `mutation ($username: String!, $password: String!) { logIn(username: $username, password: $password) { token user { id } } }`;

describe('accounts', () => {
  it('signs up, logs in case-insensitively and answers me', async () => {
    const username = uniqueUsername('Mixed');
    const { signUp: payload } = await ok(SIGN_UP, { username, password: 'a long password', displayName: '  Mixed Case  ' });
    expect(payload.user).toMatchObject({ username, displayName: 'Mixed Case' });
    expect(new Date(payload.expiresAt).getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);

    const { logIn } = await ok(LOG_IN, { username: username.toLowerCase(), password: 'a long password' });
    expect(logIn.user.id).toBe(payload.user.id);
    const { me } = await ok(`{ me { id username } }`, {}, { token: logIn.token });
    expect(me).toEqual({ id: payload.user.id, username });
  });

  it('refuses a username taken in another case with CONFLICT', async () => {
    const username = uniqueUsername('Taken');
    await ok(SIGN_UP, { username, password: 'a long password', displayName: 'First' });
    const second = await gql(SIGN_UP, { username: username.toUpperCase(), password: 'a long password', displayName: 'Second' });
    expect(codes(second)).toEqual(['CONFLICT']);
    expect(second.errors?.[0].extensions?.field).toBe('username');
  });

  it.each([
    ['username', { username: 'has space', password: 'a long password', displayName: 'x' }],
    ['username', { username: 'a_very_long_username_indeed', password: 'a long password', displayName: 'x' }],
    ['username', { username: '', password: 'a long password', displayName: 'x' }],
    ['password', { username: uniqueUsername(), password: 'short', displayName: 'x' }],
    ['displayName', { username: uniqueUsername(), password: 'a long password', displayName: '   ' }],
  ])('rejects a bad %s with BAD_USER_INPUT naming the field', async (field, variables) => {
    const response = await gql(SIGN_UP, variables);
    expect(codes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0].extensions?.field).toBe(field);
  });

  it('gives the same UNAUTHENTICATED answer for a wrong password and an unknown user', async () => {
    const user = await signUp('login');
    const wrongPassword = await gql(LOG_IN, { username: user.username, password: 'not the password' });
    const unknownUser = await gql(LOG_IN, { username: uniqueUsername('nobody'), password: 'not the password' });
    expect(codes(wrongPassword)).toEqual(['UNAUTHENTICATED']);
    expect(unknownUser.errors?.[0].message).toBe(wrongPassword.errors?.[0].message);
    expect(codes(unknownUser)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('errors a client can act on', () => {
  it.each([
    ['me', `{ me { id } }`],
    ['feed', `{ feed { edges { cursor } } }`],
    ['postTweet', `mutation { postTweet(text: "hi") { id } }`],
    ['follow', `mutation { follow(userId: "6f1c0a52-8f3e-4a4e-9d47-1d2f7f3a9b10") { id } }`],
  ])('%s without a token is UNAUTHENTICATED', async (_name, query) => {
    expect(codes(await gql(query))).toEqual(['UNAUTHENTICATED']);
  });

  it.each([
    ['a malformed token', 'not-a-jwt'],
    ['a forged token', jwt.sign({ sub: 'x', aud: 'twtr-api' }, 'some other secret of at least 32 bytes', { expiresIn: 60 })],
    ['an expired token', jwt.sign({ sub: 'x', aud: 'twtr-api', exp: 1 }, 'dev-only-jwt-secret-change-me-0123456789abcdef')],
    [
      'an unsigned token',
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"x","aud":"twtr-api"}').toString('base64url')}.`,
    ],
  ])('%s is UNAUTHENTICATED even where no viewer is needed', async (_kind, token) => {
    const response = await gql(`query ($u: String!) { user(username: $u) { id } }`, { u: 'nobody' }, { token });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
    expect(response.data ?? null).toBeNull();
  });

  it('answers null for unknown users and tweets', async () => {
    const data = await ok(
      `{ user(username: "no_such_user") { id } tweet(id: "e4b1f7c0-0000-11f1-8000-000000000000") { id } bad: tweet(id: "nope") { id } }`,
    );
    expect(data).toEqual({ user: null, tweet: null, bad: null });
  });

  it('rejects bad tweets and paging arguments with BAD_USER_INPUT naming the field', async () => {
    const user = await signUp('input');
    const blank = await gql(`mutation { postTweet(text: "  \\n ") { id } }`, {}, { token: user.token });
    const tooLong = await gql(
      `mutation ($t: String!) { postTweet(text: $t) { id } }`,
      { t: 'x'.repeat(281) },
      { token: user.token },
    );
    const badFirst = await gql(`{ feed(first: 101) { edges { cursor } } }`, {}, { token: user.token });
    const badCursor = await gql(`{ feed(after: "bm9wZQ") { edges { cursor } } }`, {}, { token: user.token });
    expect(
      [blank, tooLong, badFirst, badCursor].map((response) => [codes(response), response.errors?.[0].extensions?.field]),
    ).toEqual([
      [['BAD_USER_INPUT'], 'text'],
      [['BAD_USER_INPUT'], 'text'],
      [['BAD_USER_INPUT'], 'first'],
      [['BAD_USER_INPUT'], 'after'],
    ]);
  });

  it('refuses following yourself (BAD_USER_INPUT) and unknown users (NOT_FOUND)', async () => {
    const user = await signUp('follow');
    const self = await gql(`mutation ($id: ID!) { follow(userId: $id) { id } }`, { id: user.id }, { token: user.token });
    const unknown = await gql(
      `mutation { follow(userId: "6f1c0a52-8f3e-4a4e-9d47-1d2f7f3a9b10") { id } }`,
      {},
      { token: user.token },
    );
    const malformed = await gql(`mutation { unfollow(userId: "nope") { id } }`, {}, { token: user.token });
    expect(codes(self)).toEqual(['BAD_USER_INPUT']);
    expect(self.errors?.[0].extensions?.field).toBe('userId');
    expect(codes(unknown)).toEqual(['NOT_FOUND']);
    expect(codes(malformed)).toEqual(['BAD_USER_INPUT']);
  });
});
