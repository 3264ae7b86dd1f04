import { badUserInput } from '../../../platform/errors.js';
import { USERNAME_MAX_LENGTH, USERNAME_PATTERN, usernameKey } from '../../../platform/identity/usernames.js';

/** Sign-up rules. Each violation names the argument it concerns. */
export const PASSWORD_LENGTH = { min: 8, max: 128 } as const;
export const DISPLAY_NAME_MAX = 50;
/**
 * Raw sizes in UTF-16 code units, checked before anything that grows with the input (trimming, counting code points,
 * hashing): a code point is at most 2 units, and a display name may carry some surrounding whitespace.
 */
const PASSWORD_MAX_UNITS = 2 * PASSWORD_LENGTH.max;
const DISPLAY_NAME_MAX_UNITS = 4 * DISPLAY_NAME_MAX;

export interface SignUpInput {
  username: string;
  password: string;
  displayName: string;
}

/** A username as asked for in a lookup: too long to be anyone's is refused; otherwise null when it cannot exist. */
export function usernameForLookup(username: string): string | null {
  if (username.length > USERNAME_MAX_LENGTH)
    throw badUserInput('username', `A username is at most ${USERNAME_MAX_LENGTH} characters.`);
  return USERNAME_PATTERN.test(username) ? usernameKey(username) : null;
}

/** A password as given to log in: bounded before it is hashed. */
export function checkPasswordSize(password: string): void {
  if (password.length > PASSWORD_MAX_UNITS)
    throw badUserInput('password', `A password is at most ${PASSWORD_LENGTH.max} characters.`);
}

export function validateSignUp(input: SignUpInput): SignUpInput {
  if (!USERNAME_PATTERN.test(input.username)) {
    throw badUserInput('username', 'A username is 1 to 15 letters, digits or underscores.');
  }
  checkPasswordSize(input.password);
  const passwordLength = [...input.password].length;
  if (passwordLength < PASSWORD_LENGTH.min || passwordLength > PASSWORD_LENGTH.max) {
    throw badUserInput('password', `A password is ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max} characters.`);
  }
  return { ...input, displayName: validateDisplayName(input.displayName) };
}

/** Display names are trimmed, then 1–50 characters. */
export function validateDisplayName(displayName: string): string {
  if (displayName.length > DISPLAY_NAME_MAX_UNITS) {
    throw badUserInput('displayName', `A display name is 1 to ${DISPLAY_NAME_MAX} characters.`);
  }
  const trimmed = displayName.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > DISPLAY_NAME_MAX) {
    throw badUserInput('displayName', `A display name is 1 to ${DISPLAY_NAME_MAX} characters.`);
  }
  return trimmed;
}

const SLOWDOWN_BASE_MS = 250;
const SLOWDOWN_MAX_MS = 4_000;

/** How long to wait before checking a password after this many recent failures: nothing, then doubling, capped. */
export function slowdownMs(recentFailures: number, slowdownAfter: number): number {
  if (recentFailures < slowdownAfter) return 0;
  return Math.min(SLOWDOWN_BASE_MS * 2 ** (recentFailures - slowdownAfter), SLOWDOWN_MAX_MS);
}
