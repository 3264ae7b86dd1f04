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
  const displayName = input.displayName.trim();
  const displayNameLength = [...displayName].length;
  if (displayNameLength < 1 || displayNameLength > DISPLAY_NAME_MAX) {
    throw badUserInput('displayName', `A display name is 1 to ${DISPLAY_NAME_MAX} characters.`);
  }
  return { ...input, displayName };
}
