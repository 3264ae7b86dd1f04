import { hash, verify } from '@node-rs/argon2';

// argon2id (the library's default algorithm) with OWASP's recommended minimum cost: 19 MiB, 2 passes, 1 lane.
const COST = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export const hashPassword = (password: string) => hash(password, COST);

export const passwordMatches = (passwordHash: string, password: string) => verify(passwordHash, password);

/** Verified against when the username is unknown, so both failures take the same time. */
export const UNKNOWN_USER_HASH = await hashPassword('twtr: no such user, constant-time decoy');
