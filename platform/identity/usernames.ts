/**
 * The username grammar, shared by sign-up (users) and mentions (tweets): 1 to 15 letters, digits or underscores,
 * unique case-insensitively and shown as typed.
 */
export const USERNAME_MAX_LENGTH = 15;
export const USERNAME_PATTERN = new RegExp(`^[A-Za-z0-9_]{1,${USERNAME_MAX_LENGTH}}$`);

/** The form usernames are compared and stored under. */
export const usernameKey = (username: string) => username.toLowerCase();

/** Users one tweet may mention; further names stay plain text (the router's cost limit counts on it too). */
export const MAX_MENTIONS = 10;

/**
 * `@name` where name is a whole username: not inside a longer word, an e-mail address or a link (nothing word-like,
 * no `/`, another `@` or `＠`, or one of Twitter's `!#$%&*` right before the `@`), and not the start of something
 * longer (a 16th name character, a letter, another `@`). At most 15 characters are tried after each `@`, so the work is
 * linear in the text.
 */
const MENTION = new RegExp(
  `(?<![\\p{L}\\p{N}\\p{M}_@＠/!#$%&*])@([A-Za-z0-9_]{1,${USERNAME_MAX_LENGTH}})(?![\\p{L}\\p{N}\\p{M}_@＠])`,
  'gu',
);

/** The usernames a text mentions, as keys, each once, in order of first appearance; at most `limit` of them. */
export function mentionedUsernames(text: string, limit: number): string[] {
  const keys = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    if (keys.size === limit) break;
    keys.add(usernameKey(match[1]));
  }
  return [...keys];
}
