import { badUserInput } from '../../shared/errors.js';

/** Sign-up rules. Each violation names the argument it concerns. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_]{1,15}$/;
export const PASSWORD_LENGTH = { min: 8, max: 128 } as const;
export const DISPLAY_NAME_MAX = 50;

export interface SignUpInput {
  username: string;
  password: string;
  displayName: string;
}

/** Usernames are unique case-insensitively and shown as typed. */
export const usernameKey = (username: string) => username.toLowerCase();

export function validateSignUp(input: SignUpInput): SignUpInput {
  if (!USERNAME_PATTERN.test(input.username)) {
    throw badUserInput('username', 'A username is 1 to 15 letters, digits or underscores.');
  }
  const passwordLength = [...input.password].length;
  if (passwordLength < PASSWORD_LENGTH.min || passwordLength > PASSWORD_LENGTH.max) {
    throw badUserInput('password', `A password is ${PASSWORD_LENGTH.min} to ${PASSWORD_LENGTH.max} characters.`);
  }
  return { ...input, displayName: validateDisplayName(input.displayName) };
}

/** Display names are trimmed, then 1–50 characters. */
export function validateDisplayName(displayName: string): string {
  const trimmed = displayName.trim();
  const length = [...trimmed].length;
  if (length < 1 || length > DISPLAY_NAME_MAX) {
    throw badUserInput('displayName', `A display name is 1 to ${DISPLAY_NAME_MAX} characters.`);
  }
  return trimmed;
}

/** How failed log-ins are throttled, per username and per client address. */
export interface ThrottlePolicy {
  maxFailures: number;
  slowdownAfter: number;
}

const SLOWDOWN_BASE_MS = 250;
const SLOWDOWN_MAX_MS = 4_000;

/** With this many recent failures: refuse the attempt, or answer it after a delay that doubles with each failure. */
export function throttleDecision(recentFailures: number, policy: ThrottlePolicy): { refuse: boolean; delayMs: number } {
  if (recentFailures >= policy.maxFailures) return { refuse: true, delayMs: 0 };
  if (recentFailures < policy.slowdownAfter) return { refuse: false, delayMs: 0 };
  return { refuse: false, delayMs: Math.min(SLOWDOWN_BASE_MS * 2 ** (recentFailures - policy.slowdownAfter), SLOWDOWN_MAX_MS) };
}
