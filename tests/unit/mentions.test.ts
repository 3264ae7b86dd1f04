import { describe, expect, it } from 'vitest';

import { mentionedUsernames } from '../../platform/identity/usernames.js';

const mentions = (text: string, limit = 10) => mentionedUsernames(text, limit);

describe('mentions in a tweet', () => {
  it('are whole usernames after an @, as keys, in order of first appearance, each once', () => {
    expect(mentions('@Bob and @alice, then @BOB again')).toEqual(['bob', 'alice']);
  });

  it('may stand at either end of the text or beside punctuation', () => {
    expect(mentions('@ann')).toEqual(['ann']);
    expect(mentions('(@ann), "@bo_b"! cc:@cy. @dee?')).toEqual(['ann', 'bo_b', 'cy', 'dee']);
  });

  it('are not inside e-mail addresses or longer words', () => {
    expect(mentions('mail me at ann@example.com or x.y@bob.org')).toEqual([]);
    expect(mentions('café@ann and 9@bob and _@cy')).toEqual([]);
  });

  it('are not two names run together: @a@b mentions no one', () => {
    expect(mentions('@a@b')).toEqual([]);
    expect(mentions('@@ann')).toEqual([]);
  });

  it('are not the start of a name longer than a username can be, or of a word with letters beyond ASCII', () => {
    expect(mentions('@abcdefghijklmno ok')).toEqual(['abcdefghijklmno']);
    expect(mentions('@abcdefghijklmnop is too long')).toEqual([]);
    expect(mentions('@josé is not jos')).toEqual([]);
  });

  it("are not in links to profiles elsewhere, or after a full-width ＠ or one of Twitter's !#$%&*", () => {
    expect(mentions('https://mastodon.social/@ann and youtube.com/@bob/videos')).toEqual([]);
    expect(mentions('＠@ann @ann＠bob !@cy #@dee *@eve')).toEqual([]);
  });

  it('may touch emoji on either side', () => {
    expect(mentions('🎉@ann🎉 👩🏽‍🚀 @bob👍🏽')).toEqual(['ann', 'bob']);
  });

  it('need a name after the @', () => {
    expect(mentions('@ @! @')).toEqual([]);
  });

  it('stop at the limit; the rest stay plain text', () => {
    const text = Array.from({ length: 12 }, (_, index) => `@user${index}`).join(' ');
    expect(mentions(text)).toEqual(Array.from({ length: 10 }, (_, index) => `user${index}`));
    expect(mentions('@a @a @a @b', 2)).toEqual(['a', 'b']);
  });
});
