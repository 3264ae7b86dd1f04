import { type CassandraClient, cql } from '../cassandra/client.js';
import type { Config, RateLimit } from '../config.js';
import { rateLimited } from '../errors.js';
import { isLoopback } from '../identity/addresses.js';

type TimeUuid = InstanceType<typeof cql.TimeUuid>;

/** One thing counted against one limit, e.g. `postTweet:<viewer id>` at most 100 per 900 s. */
export interface RateSubject {
  key: string;
  limit: RateLimit;
}

/** An attempt that was let through: how many came before it, and how to take it back. */
export interface Admitted {
  /** Attempts counted before this one within the window, per subject (in the order given). */
  earlier: number[];
  /** Takes this attempt back from the given subjects (one that turned out not to count, e.g. a successful log-in). */
  forget(keys: readonly string[]): Promise<void>;
  /** Removes every attempt counted against the given subjects. */
  reset(keys: readonly string[]): Promise<void>;
}

/**
 * Sliding-window limits shared by every replica: each attempt is a row with a TTL in the service's own
 * `rate_limit_hits` table (see migrations), counted per subject. An attempt is counted *before* it is allowed to do
 * its work and allowed only if the count, its own row included, is within the limit, so N concurrent attempts can
 * never all slip through on a stale count: whichever of the admitted attempts read last saw every admitted row.
 * A subject already at its limit is refused after one read, without writing, so a flood cannot grow its partition.
 */
export class RateLimiter {
  constructor(private readonly cassandra: CassandraClient) {}

  /** Counts one attempt against every subject; RATE_LIMITED (with retryAfterSeconds) if any is over its limit. */
  async admit(subjects: readonly RateSubject[], message = 'You are doing that too often.'): Promise<Admitted> {
    refuseIfOver(subjects, await Promise.all(subjects.map((subject) => this.recent(subject, subject.limit.max))), message);
    const hitAt = cql.TimeUuid.now();
    await Promise.all(
      subjects.map((subject) =>
        this.cassandra.execute('INSERT INTO rate_limit_hits (subject, hit_at) VALUES (?, ?) USING TTL ?', [
          subject.key,
          hitAt,
          subject.limit.windowSeconds,
        ]),
      ),
    );
    const counted = await Promise.all(subjects.map((subject) => this.recent(subject, subject.limit.max + 1)));
    refuseIfOver(subjects, counted, message, 1);
    return {
      earlier: counted.map((hits) => hits.length - 1),
      forget: async (keys) => {
        await Promise.all(
          keys.map((key) => this.cassandra.execute('DELETE FROM rate_limit_hits WHERE subject = ? AND hit_at = ?', [key, hitAt])),
        );
      },
      reset: async (keys) => {
        // One partition tombstone per subject, not one per row.
        await Promise.all(keys.map((key) => this.cassandra.execute('DELETE FROM rate_limit_hits WHERE subject = ?', [key])));
      },
    };
  }

  /** Times of the subject's attempts within its window, newest first, at most `limit` of them. */
  private async recent(subject: RateSubject, limit: number): Promise<Date[]> {
    const result = await this.cassandra.execute('SELECT hit_at FROM rate_limit_hits WHERE subject = ? LIMIT ?', [
      subject.key,
      limit,
    ]);
    return result.rows.map((row) => (row.get('hit_at') as TimeUuid).getDate());
  }
}

/** Throws RATE_LIMITED for the first subject with `max + allowance` or more attempts in its window. */
function refuseIfOver(subjects: readonly RateSubject[], hits: Date[][], message: string, allowance = 0): void {
  for (const [index, { limit }] of subjects.entries()) {
    if (hits[index].length < limit.max + allowance) continue;
    // The window frees a slot when the oldest of the newest `max` attempts ages out.
    const oldestCounted = hits[index][Math.min(limit.max, hits[index].length) - 1];
    const retryAfterSeconds = Math.max(1, Math.ceil(limit.windowSeconds - (Date.now() - oldestCounted.getTime()) / 1000));
    throw rateLimited(`${message} Try again in ${retryAfterSeconds} seconds.`, retryAfterSeconds);
  }
}

/** The actions limited per viewer, and the one limited per client address, with their configured limits. */
const VIEWER_LIMITS = {
  postTweet: 'RATE_LIMIT_POST_TWEET',
  deleteTweet: 'RATE_LIMIT_DELETE_TWEET',
  follow: 'RATE_LIMIT_FOLLOW',
  updateProfile: 'RATE_LIMIT_UPDATE_PROFILE',
} as const satisfies Record<string, keyof Config>;
const CLIENT_LIMITS = { signUp: 'RATE_LIMIT_SIGN_UP' } as const satisfies Record<string, keyof Config>;

type RateLimitConfig = Pick<
  Config,
  | (typeof VIEWER_LIMITS)[keyof typeof VIEWER_LIMITS]
  | (typeof CLIENT_LIMITS)[keyof typeof CLIENT_LIMITS]
  | 'RATE_LIMIT_EXEMPT_LOOPBACK'
>;

/** The configured limits on what one viewer or one client address may do, shared by every replica. */
export class RateLimits {
  constructor(
    readonly limiter: RateLimiter,
    private readonly config: RateLimitConfig,
  ) {}

  /** RATE_LIMITED when the viewer has done this too often lately; otherwise counts it. */
  async perViewer(action: keyof typeof VIEWER_LIMITS, viewerId: string): Promise<void> {
    await this.limiter.admit([{ key: `${action}:${viewerId}`, limit: this.config[VIEWER_LIMITS[action]] }]);
  }

  /** The same per client address; the machine itself is exempt where configured (development, benchmarks). */
  async perClient(action: keyof typeof CLIENT_LIMITS, clientAddress: string | null): Promise<void> {
    if (this.config.RATE_LIMIT_EXEMPT_LOOPBACK && isLoopback(clientAddress)) return;
    await this.limiter.admit([{ key: `${action}:${clientAddress ?? 'unknown'}`, limit: this.config[CLIENT_LIMITS[action]] }]);
  }
}
