import { describe, expect, it } from 'vitest';

import { usernameKey } from '../../platform/identity/usernames.js';
import { validateTweetText } from '../../subgraphs/tweets/src/rules.js';
import { slowdownMs, validateSignUp } from '../../subgraphs/users/src/rules.js';

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
    [{ displayName: ' '.repeat(500_000) }, 'displayName'],
    [{ password: '🔑'.repeat(129) }, 'password'],
    [{ password: 'p'.repeat(500_000) }, 'password'],
  ])('refuses %o with BAD_USER_INPUT on %s', (change, field) => {
    expect(fieldOf(() => validateSignUp({ ...valid, ...change }))).toEqual(['BAD_USER_INPUT', field]);
  });

  it('folds case for uniqueness only', () => {
    expect(usernameKey('AliCe')).toBe(usernameKey('alice'));
  });
});

describe('tweet text rules', () => {
  it('counts user-perceived characters', () => {
    expect(validateTweetText('👩🏽‍🚀'.repeat(280))).toHaveLength(280 * 7);
    expect(validateTweetText('e\u0301'.repeat(280))).toHaveLength(280 * 2);
    expect(fieldOf(() => validateTweetText('e\u0301'.repeat(281)))).toEqual(['BAD_USER_INPUT', 'text']);
  });

  it('keeps text as written, newlines and surrounding spaces included', () => {
    expect(validateTweetText('  line one\nline two ')).toBe('  line one\nline two ');
  });

  it('accepts long emoji sequences as one character each', () => {
    const flagOfScotland = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}';
    const kissWithSkinTones = '👩🏻‍❤️‍💋‍👨🏼';
    expect(validateTweetText(`${flagOfScotland} ${kissWithSkinTones}`)).toBeTruthy();
  });

  it.each([
    [''],
    ['   '],
    ['\n\t'],
    ['x'.repeat(281)],
    ['😀'.repeat(281)],
    ['x'.repeat(900_000)],
    [`a${'\u0301'.repeat(2_000)}`],
    [`a${'\u0301'.repeat(40)} is zalgo`],
  ])('refuses %s', (text) => {
    expect(fieldOf(() => validateTweetText(text))).toEqual(['BAD_USER_INPUT', 'text']);
  });
});

describe('log-in slow-down', () => {
  it('answers at once, then ever more slowly', () => {
    expect([0, 1, 2, 3, 4, 5].map((failures) => slowdownMs(failures, 3))).toEqual([0, 0, 0, 250, 500, 1000]);
  });

  it('caps the delay', () => {
    expect(slowdownMs(40, 0)).toBe(4000);
  });
});
