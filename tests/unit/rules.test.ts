import { describe, expect, it } from 'vitest';
import { tweetLength, validateTweetText } from '../../subgraphs/tweets/src/rules.js';
import { throttleDecision, usernameKey, validateSignUp } from '../../subgraphs/users/src/rules.js';

const fieldOf = (action: () => unknown) => {
  try {
    action();
  } catch (error: any) {
    return [error.extensions.code, error.extensions.field];
  }
  return 'accepted';
};

describe('sign-up rules', () => {
  const valid = { username: 'Alice_01', password: '12345678', displayName: 'Alice' };

  it('accepts the edges of every range and trims the display name', () => {
    expect(validateSignUp({ ...valid, username: 'a' })).toMatchObject({ username: 'a' });
    expect(validateSignUp({ ...valid, username: 'x'.repeat(15) }).username).toHaveLength(15);
    expect(validateSignUp({ ...valid, password: 'p'.repeat(128) }).password).toHaveLength(128);
    expect(validateSignUp({ ...valid, displayName: `  ${'d'.repeat(50)}  ` }).displayName).toBe('d'.repeat(50));
  });

  it.each([
    [{ username: '' }, 'username'],
    [{ username: 'x'.repeat(16) }, 'username'],
    [{ username: 'al-ice' }, 'username'],
    [{ username: 'émile' }, 'username'],
    [{ password: '1234567' }, 'password'],
    [{ password: 'p'.repeat(129) }, 'password'],
    [{ displayName: ' \t ' }, 'displayName'],
    [{ displayName: 'd'.repeat(51) }, 'displayName'],
  ])('refuses %o with BAD_USER_INPUT on %s', (change, field) => {
    expect(fieldOf(() => validateSignUp({ ...valid, ...change }))).toEqual(['BAD_USER_INPUT', field]);
  });

  it('folds case for uniqueness only', () => {
    expect(usernameKey('AliCe')).toBe(usernameKey('alice'));
  });
});

describe('tweet text rules', () => {
  it('counts user-perceived characters', () => {
    expect(tweetLength('👩🏽‍🚀')).toBe(1);
    expect(tweetLength('e\u0301')).toBe(1);
    expect(validateTweetText('👍🏿'.repeat(280))).toHaveLength(280 * 4);
  });

  it('keeps text as written, newlines and surrounding spaces included', () => {
    expect(validateTweetText('  line one\nline two ')).toBe('  line one\nline two ');
  });

  it.each([[''], ['   '], ['\n\t'], ['x'.repeat(281)], ['😀'.repeat(281)]])('refuses %j', (text) => {
    expect(fieldOf(() => validateTweetText(text))).toEqual(['BAD_USER_INPUT', 'text']);
  });
});

describe('log-in throttling policy', () => {
  const policy = { maxFailures: 5, slowdownAfter: 3 };

  it('answers at once, then ever more slowly, then refuses', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((failures) => throttleDecision(failures, policy))).toEqual([
      { refuse: false, delayMs: 0 },
      { refuse: false, delayMs: 0 },
      { refuse: false, delayMs: 0 },
      { refuse: false, delayMs: 250 },
      { refuse: false, delayMs: 500 },
      { refuse: true, delayMs: 0 },
      { refuse: true, delayMs: 0 },
    ]);
  });

  it('caps the delay', () => {
    expect(throttleDecision(40, { maxFailures: 50, slowdownAfter: 0 }).delayMs).toBe(4000);
  });
});
