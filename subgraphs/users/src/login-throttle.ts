import { isLoopback } from '../../../platform/identity/addresses.js';
import type { RateLimiter, RateSubject } from '../../../platform/limits/rate-limiter.js';
import { slowdownMs } from './rules.js';

export interface LoginThrottleOptions {
  /** Failures, and password checks, count for this long. */
  windowSeconds: number;
  /** Failures for one username from one client address: what stops password guessing. */
  maxPerUsernameAndClient: number;
  /** Failures for one username from all addresses: a ceiling against guessing spread over many addresses. */
  maxPerUsername: number;
  /** Failures from one client address on any usernames: what stops trying one password on many accounts. */
  maxPerClient: number;
  /** Failures after which each further attempt is answered more slowly. */
  slowdownAfter: number;
  /** Passwords checked for one client address, right or wrong: what bounds the argon2 work one address can cause. */
  maxPasswordChecksPerClient: number;
  /** Whether loopback addresses skip the budget of password checks (RATE_LIMIT_EXEMPT_LOOPBACK). */
  exemptLoopback: boolean;
  /** How long an attempt waits for concurrent attempts ahead of it to be decided before it is refused. Defaults to 10 s. */
  maxWaitMs?: number;
}

/** A log-in attempt let through to have its password checked; it must say how that ended. */
export interface LoginAttempt {
  /** The right password: not a failure, and the username's failures from this address and in all are cleared. */
  succeeded(): Promise<void>;
  /** A wrong password (or no such user): a failure, counted for the rest of the window. */
  failed(): Promise<void>;
  /** The password was not checked after all (an error on the way): the attempt does not count. */
  abandoned(): Promise<void>;
}

/**
 * Slows and then refuses repeated failed log-ins. Every attempt is reserved *before* its password is verified, so
 * concurrent guesses cannot outrun the count; only a wrong password turns its reservation into a failure. An attempt
 * that finds the limit taken up by undecided ones waits for them, so concurrent right passwords all get through, and
 * one refused before its password is checked does not count. The limit that stops guessing applies to a username and
 * client address together, so an attacker locking a username from their address does not lock its owner out from
 * theirs; a larger per-username ceiling bounds guessing spread over many addresses. Each address also has a budget of
 * password checks, right ones included, so nobody can make the service run argon2 at will. State lives in Cassandra
 * (every replica sees it).
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
    const address = clientAddress ?? 'unknown';
    const [pair, username, client] = [
      `login-pair:${usernameKey}|${address}`,
      `login-username:${usernameKey}`,
      `login-client:${address}`,
    ];
    const subjects: RateSubject[] = [
      { key: pair, limit: limit(this.options.maxPerUsernameAndClient) },
      { key: username, limit: limit(this.options.maxPerUsername) },
      { key: client, limit: limit(this.options.maxPerClient) },
    ];
    const reservation = await this.limiter.reserve(subjects, 'Too many failed log-ins.', this.options.maxWaitMs ?? 10_000);
    const keys = subjects.map((subject) => subject.key);
    try {
      // After the reservation, so attempts waiting for one do not hold a place in the budget meanwhile.
      await this.admitPasswordCheck(clientAddress);
    } catch (error) {
      await reservation.forget(keys);
      throw error;
    }
    // Only this address's own failures slow it down: failures spread over many addresses must not slow the owner.
    const [pairFailures, , clientFailures] = reservation.earlier;
    const delayMs = slowdownMs(Math.max(pairFailures, clientFailures), slowdownAfter);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return {
      // The client's count keeps its earlier failures (it may be trying many accounts) but not this success.
      succeeded: async () => {
        await Promise.all([reservation.reset([pair, username]), reservation.forget([client])]);
      },
      failed: () => reservation.settle(),
      abandoned: () => reservation.forget(keys),
    };
  }

  /** RATE_LIMITED when the address has had too many passwords checked lately; otherwise counts this check. */
  private async admitPasswordCheck(clientAddress: string | null): Promise<void> {
    if (this.options.exemptLoopback && isLoopback(clientAddress)) return;
    await this.limiter.admit(
      [
        {
          key: `login-check:${clientAddress ?? 'unknown'}`,
          limit: { max: this.options.maxPasswordChecksPerClient, windowSeconds: this.options.windowSeconds },
        },
      ],
      'Too many log-ins from this address.',
    );
  }
}
