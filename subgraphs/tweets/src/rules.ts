import { badUserInput } from '../../shared/errors.js';

export const MAX_TWEET_LENGTH = 280;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Length as people count it: user-perceived characters, so an emoji with modifiers counts once. */
export const tweetLength = (text: string) => [...graphemes.segment(text)].length;

/** Text is stored exactly as written; it must have something besides whitespace and fit 280 characters. */
export function validateTweetText(text: string): string {
  if (text.trim().length === 0) throw badUserInput('text', 'A tweet needs some text.');
  if (tweetLength(text) > MAX_TWEET_LENGTH) {
    throw badUserInput('text', `A tweet is at most ${MAX_TWEET_LENGTH} characters.`);
  }
  return text;
}
