import { badUserInput } from '../../../platform/errors.js';

export const MAX_TWEET_LENGTH = 280;
/**
 * Raw bound in UTF-16 code units, checked first and in constant time: 280 characters of 8 units, so 280 of the
 * emoji people actually use fit (an astronaut with a skin tone, 👩🏽‍🚀, is 7). Counting graphemes costs far more per
 * unit (and all of them, quadratically more: 25,000 units took a second and 700 MB), so it only ever sees bounded
 * text and stops at the 281st character.
 */
export const MAX_TWEET_UNITS = 8 * MAX_TWEET_LENGTH;
/**
 * Longest single user-perceived character accepted, in UTF-16 units: the longest emoji sequences (flags of regions,
 * families with skin tones) take 14–15; a letter buried under dozens of combining marks ("zalgo") does not count as
 * one character.
 */
export const MAX_CHARACTER_UNITS = 32;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * Text is stored exactly as written; it must have something besides whitespace and fit 280 characters as people count
 * them (user-perceived characters: an emoji with modifiers counts once).
 */
export function validateTweetText(text: string): string {
  if (text.length > MAX_TWEET_UNITS) throw tooLong();
  if (text.trim().length === 0) throw badUserInput('text', 'A tweet needs some text.');
  let length = 0;
  for (const { segment } of graphemes.segment(text)) {
    if (segment.length > MAX_CHARACTER_UNITS) {
      throw badUserInput('text', 'A character in this tweet carries too many combining marks.');
    }
    if (++length > MAX_TWEET_LENGTH) throw tooLong();
  }
  return text;
}

const tooLong = () => badUserInput('text', `A tweet is at most ${MAX_TWEET_LENGTH} characters.`);
