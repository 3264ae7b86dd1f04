import { rateLimited } from '../../shared/errors.js';
import type { UserRepository } from './repository.js';
import { throttleDecision, type ThrottlePolicy } from './rules.js';

export interface LoginThrottleOptions {
  /** Failures count for this long. */
  windowSeconds: number;
  perUsername: ThrottlePolicy;
  perClient: ThrottlePolicy;
}

/**
 * Slows and then refuses repeated failed log-ins, for one username (password guessing) and for one client address
 * (trying many usernames). State lives in Cassandra, so every replica of the users subgraph sees the same counts.
 */
export class LoginThrottle {
  constructor(
    private readonly users: UserRepository,
    private readonly options: LoginThrottleOptions,
  ) {}

  /** Throws RATE_LIMITED, or waits as long as the recent failures ask, before an attempt is checked. */
  async beforeAttempt(usernameKey: string, clientAddress: string | null): Promise<void> {
    const subjects = this.subjects(usernameKey, clientAddress);
    const failures = await Promise.all(subjects.map(({ subject, policy }) => this.users.recentLoginFailures(subject, policy.maxFailures)));
    let delayMs = 0;
    for (const [index, { policy }] of subjects.entries()) {
      const decision = throttleDecision(failures[index].length, policy);
      if (decision.refuse) {
        const oldestCounted = failures[index].at(-1)!;
        const retryAfterSeconds = Math.max(1, Math.ceil(this.options.windowSeconds - (Date.now() - oldestCounted.getTime()) / 1000));
        throw rateLimited(`Too many failed log-ins. Try again in ${retryAfterSeconds} seconds.`, retryAfterSeconds);
      }
      delayMs = Math.max(delayMs, decision.delayMs);
    }
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  }

  async failed(usernameKey: string, clientAddress: string | null): Promise<void> {
    await Promise.all(
      this.subjects(usernameKey, clientAddress).map(({ subject }) => this.users.recordLoginFailure(subject, this.options.windowSeconds)),
    );
  }

  /** A correct password clears the username's failures (not the client's: it may be trying many accounts). */
  async succeeded(usernameKey: string): Promise<void> {
    await this.users.clearLoginFailures(`username:${usernameKey}`);
  }

  private subjects(usernameKey: string, clientAddress: string | null) {
    return [
      { subject: `username:${usernameKey}`, policy: this.options.perUsername },
      ...(clientAddress ? [{ subject: `client:${clientAddress}`, policy: this.options.perClient }] : []),
    ];
  }
}
