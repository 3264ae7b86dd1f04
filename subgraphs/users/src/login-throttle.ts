import type { RateLimiter, RateSubject } from '../../../platform/limits/rate-limiter.js';
import { slowdownMs } from './rules.js';

export interface LoginThrottleOptions {
  /** Failures count for this long. */
  windowSeconds: number;
  /** Failures for one username from one client address: what stops password guessing. */
  maxPerUsernameAndClient: number;
  /** Failures for one username from all addresses: a ceiling against guessing spread over many addresses. */
  maxPerUsername: number;
  /** Failures from one client address on any usernames: what stops trying one password on many accounts. */
  maxPerClient: number;
  /** Failures after which each further attempt is answered more slowly. */
  slowdownAfter: number;
}

/** A log-in attempt counted before its password is checked; it says how it ended. */
export interface LoginAttempt {
  succeeded(): Promise<void>;
}

/**
 * Slows and then refuses repeated failed log-ins. Every attempt is counted *before* its password is verified, so
 * concurrent guesses cannot outrun the count. The limit that stops guessing applies to a username and client address
 * together, so an attacker locking a username from their address does not lock its owner out from theirs; a larger
 * per-username ceiling bounds guessing spread over many addresses. State lives in Cassandra (every replica sees it).
 */
export class LoginThrottle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly options: LoginThrottleOptions,
  ) {}

  /** Throws RATE_LIMITED, or waits as long as the recent failures ask; then the password may be checked. */
  async attempt(usernameKey: string, clientAddress: string | null): Promise<LoginAttempt> {
    const { windowSeconds, slowdownAfter } = this.options;
    const limit = (max: number) => ({ max, windowSeconds });
    const client = `login-client:${clientAddress ?? 'unknown'}`;
    const subjects: RateSubject[] = [
      { key: `login-pair:${usernameKey}|${clientAddress ?? 'unknown'}`, limit: limit(this.options.maxPerUsernameAndClient) },
      { key: `login-username:${usernameKey}`, limit: limit(this.options.maxPerUsername) },
      { key: client, limit: limit(this.options.maxPerClient) },
    ];
    const admitted = await this.limiter.admit(subjects, 'Too many failed log-ins.');
    // Only this address's own failures slow it down: failures spread over many addresses must not slow the owner.
    const [pairFailures, , clientFailures] = admitted.earlier;
    const delayMs = slowdownMs(Math.max(pairFailures, clientFailures), slowdownAfter);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return {
      // The right password clears the username's failures; the client's count keeps its earlier failures (it may be
      // trying many accounts) but not this success.
      succeeded: async () => {
        await Promise.all([admitted.reset([subjects[0].key, subjects[1].key]), admitted.forget([client])]);
      },
    };
  }
}
