import { spawnSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { codes, gql, ok, signUp, uniqueClientAddress, uniqueUsername } from '../support/client.js';
import { TEST_ENV } from '../support/env.js';

const SIGN_UP = `mutation ($username: String!) {
  signUp(username: $username, password: "correct horse battery", displayName: "Racer") { user { id username } }
}`;
const LOG_IN = `mutation ($username: String!, $password: String!) { logIn(username: $username, password: $password) { user { id } } }`;

describe('sign-up under concurrency', () => {
  it('lets exactly one of many simultaneous sign-ups with one name (in any case) win', async () => {
    const name = uniqueUsername('race');
    const spellings = Array.from({ length: 10 }, (_, i) => (i % 2 ? name.toUpperCase() : name));
    const responses = await Promise.all(spellings.map((username) => gql(SIGN_UP, { username })));

    const winners = responses.filter((response) => response.data?.signUp);
    expect(winners).toHaveLength(1);
    expect(responses.flatMap(codes).sort()).toEqual(Array(9).fill('CONFLICT'));
    const { user } = await ok(`query ($u: String!) { user(username: $u) { id } }`, { u: name });
    expect(user.id).toBe(winners[0].data.signUp.user.id);
  });
});

describe('updateProfile', () => {
  it("changes the viewer's display name and nothing else", async () => {
    const user = await signUp('prof', 'Before');
    const { updateProfile } = await ok(
      `mutation { updateProfile(displayName: "  After  ") { id username displayName } }`,
      {},
      { token: user.token },
    );
    expect(updateProfile).toEqual({ id: user.id, username: user.username, displayName: 'After' });
    const unchanged = await ok(`mutation { updateProfile { displayName } }`, {}, { token: user.token });
    expect(unchanged.updateProfile.displayName).toBe('After');
    const { user: seen } = await ok(`query ($u: String!) { user(username: $u) { displayName } }`, { u: user.username });
    expect(seen.displayName).toBe('After');
  });

  it('refuses a blank name and an anonymous caller', async () => {
    const user = await signUp('prof');
    const blank = await gql(`mutation { updateProfile(displayName: "   ") { id } }`, {}, { token: user.token });
    expect([codes(blank), blank.errors?.[0].extensions?.field]).toEqual([['BAD_USER_INPUT'], 'displayName']);
    expect(codes(await gql(`mutation { updateProfile(displayName: "x") { id } }`))).toEqual(['UNAUTHENTICATED']);
  });
});

describe('log-in throttling', () => {
  it('refuses a guessing address with RATE_LIMITED for that username, even the right password, while its owner logs in elsewhere', async () => {
    const victim = await signUp('victim');
    const attacker = uniqueClientAddress();
    const attempts = await Promise.all(
      Array.from({ length: 5 }, () =>
        gql(LOG_IN, { username: victim.username, password: 'wrong guess' }, { clientAddress: attacker }),
      ),
    );
    expect(attempts.flatMap(codes)).toEqual(Array(5).fill('UNAUTHENTICATED'));

    const refused = await gql(
      LOG_IN,
      { username: victim.username, password: 'correct horse battery' },
      { clientAddress: attacker },
    );
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    const retryAfter = (refused.errors?.[0].extensions as { retryAfterSeconds?: number }).retryAfterSeconds;
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);

    // The owner, from their own address, is not locked out by someone else's guessing; nor are other accounts.
    await ok(LOG_IN, { username: victim.username, password: 'correct horse battery' }, { clientAddress: uniqueClientAddress() });
    const bystander = await signUp('bystand');
    await ok(LOG_IN, { username: bystander.username, password: 'correct horse battery' }, { clientAddress: attacker });
  });

  it('refuses a username guessed from many addresses once its ceiling is reached', async () => {
    const victim = await signUp('spread');
    const ceiling = Number(TEST_ENV.LOGIN_MAX_FAILURES_PER_USERNAME);
    const attempts = await Promise.all(
      Array.from({ length: ceiling }, () =>
        gql(LOG_IN, { username: victim.username, password: 'wrong guess' }, { clientAddress: uniqueClientAddress() }),
      ),
    );
    expect(attempts.flatMap(codes)).toEqual(Array(ceiling).fill('UNAUTHENTICATED'));
    const refused = await gql(
      LOG_IN,
      { username: victim.username, password: 'correct horse battery' },
      { clientAddress: uniqueClientAddress() },
    );
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
  });

  it('refuses a client that fails on many usernames, while other clients log in', async () => {
    const user = await signUp('spray');
    const sprayer = uniqueClientAddress();
    const attempts = await Promise.all(
      Array.from({ length: 8 }, () =>
        gql(LOG_IN, { username: uniqueUsername('nobody'), password: 'guess' }, { clientAddress: sprayer }),
      ),
    );
    expect(attempts.flatMap(codes)).toEqual(Array(8).fill('UNAUTHENTICATED'));

    const refused = await gql(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: sprayer });
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    await ok(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: uniqueClientAddress() });
  });

  it('does not count attempts refused before their password was checked', async () => {
    const victim = await signUp('burst');
    const bystander = await signUp('bystand');
    const guesser = uniqueClientAddress();
    const guesses = await Promise.all(
      Array.from({ length: 20 }, () =>
        gql(LOG_IN, { username: victim.username, password: 'wrong guess' }, { clientAddress: guesser }),
      ),
    );
    const outcome = guesses.flatMap(codes);
    expect(outcome.filter((code) => code === 'UNAUTHENTICATED').length).toBeLessThanOrEqual(5);
    expect(outcome.filter((code) => code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(15);
    // At most 5 failures count against the address (its limit is 8), not the 20 attempts: it may still log in.
    await ok(LOG_IN, { username: bystander.username, password: 'correct horse battery' }, { clientAddress: guesser });
  });

  it('lets simultaneous right passwords from one address all in, more of them than its failure limits', async () => {
    const user = await signUp('many');
    const client = uniqueClientAddress();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        gql(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: client }),
      ),
    );
    expect(answers.flatMap(codes)).toEqual([]);
    expect(answers.map((answer) => answer.data?.logIn.user.id)).toEqual(Array(10).fill(user.id));
  });

  it('bounds the passwords checked for one address, right ones included, before checking them', async () => {
    const user = await signUp('budget');
    const client = uniqueClientAddress();
    const budget = Number(TEST_ENV.LOGIN_MAX_PASSWORD_CHECKS_PER_CLIENT);
    const logIn = () => gql(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: client });
    // One after another: none of them is a failure, none waits for another.
    for (let i = 0; i < budget; i++) expect(codes(await logIn())).toEqual([]);

    const refused = await logIn();
    expect(codes(refused)).toEqual(['RATE_LIMITED']);
    const retryAfter = (refused.errors?.[0].extensions as { retryAfterSeconds?: number }).retryAfterSeconds;
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    // The budget is the address's, not the account's.
    await ok(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: uniqueClientAddress() });
  });

  it('forgets a username’s failures after a successful log-in', async () => {
    const user = await signUp('forget');
    const client = uniqueClientAddress();
    for (let round = 0; round < 2; round++) {
      const failures = await Promise.all(
        Array.from({ length: 3 }, () =>
          gql(LOG_IN, { username: user.username, password: 'wrong' }, { clientAddress: uniqueClientAddress() }),
        ),
      );
      expect(failures.flatMap(codes)).toEqual(Array(3).fill('UNAUTHENTICATED'));
      await ok(LOG_IN, { username: user.username, password: 'correct horse battery' }, { clientAddress: client });
    }
  });
});

describe('production start-up', () => {
  it.each(['router/src/index.ts', 'subgraphs/users/src/index.ts'])('%s refuses development secrets', (entry) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      env: { PATH: process.env.PATH, NODE_ENV: 'production', APOLLO_TELEMETRY_DISABLED: 'true' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(
      'refusing to start in production with development default secrets: JWT_SECRET, INTERNAL_IDENTITY_SECRET',
    );
  });
});
