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
  /** Attempts counted before this one within the window, per subject (in the order given); reservations not included. */
  earlier: number[];
  /** Takes this attempt back from the given subjects (one that turned out not to count, e.g. a successful log-in). */
  forget(keys: readonly string[]): Promise<void>;
  /** Removes every attempt counted against the given subjects. */
  reset(keys: readonly string[]): Promise<void>;
}

/** An attempt admitted before its outcome is known (see `reserve`): it counts, as undecided, until settled or forgotten. */
export interface Reservation extends Admitted {
  /** Decides that the attempt counts (e.g. a wrong password): it stays in every subject for the rest of its window. */
  settle(): Promise<void>;
}

/** One counted attempt as read back: its row's key and whether its outcome is still undecided. */
interface Hit {
  id: string;
  at: Date;
  undecided: boolean;
}

/** Why an attempt was refused: the first subject over its limit, its attempts as read, and whether waiting may help. */
interface Refusal {
  subject: RateSubject;
  hits: Hit[];
  undecidedAhead: boolean;
}

/** Pauses between looks at undecided attempts ahead of a reservation: from this, doubling, at most the second. */
const RESERVATION_PAUSE_MS = [20, 500] as const;

/**
 * Sliding-window limits shared by every replica: each attempt is a row with a TTL in the service's own
 * `rate_limit_hits` table (see migrations), counted per subject. An attempt is counted *before* it is allowed to do
 * its work and allowed only if the count, its own row included, is within the limit, so N concurrent attempts can
 * never all slip through on a stale count: whichever of the admitted attempts read last saw every admitted row.
 * An attempt refused on that count takes its row back, so only admitted attempts count (taking back a refused row
 * cannot let an extra one through: the admitted attempts' rows are all still there for the last reader to see).
 * A subject already at its limit is refused after one read, without writing, so a flood cannot grow its partition.
 */
export class RateLimiter {
  constructor(private readonly cassandra: CassandraClient) {}

  /** Counts one attempt against every subject; RATE_LIMITED (with retryAfterSeconds) if any is over its limit. */
  async admit(subjects: readonly RateSubject[], message = 'You are doing that too often.'): Promise<Admitted> {
    const outcome = await this.tryToAdmit(subjects, false);
    if ('refusal' in outcome) throw refusalError(outcome.refusal, message);
    return outcome.admitted;
  }

  /**
   * Like `admit`, for an attempt whose outcome decides whether it counts (a log-in: only a wrong password is a
   * failure). It is counted, as undecided, while its work runs, so concurrent attempts cannot outrun the count; it
   * is then settled (it counts) or forgotten (it does not). An attempt that finds the limit taken up by undecided
   * attempts waits for them to be decided, up to `maxWaitMs`, rather than being refused for attempts that may not
   * count: of many concurrent attempts that all turn out not to count, none is refused. The table needs the
   * `pending` column for this (migrations/users/007).
   */
  async reserve(subjects: readonly RateSubject[], message: string, maxWaitMs: number): Promise<Reservation> {
    const deadline = Date.now() + maxWaitMs;
    for (let pauseMs: number = RESERVATION_PAUSE_MS[0]; ; pauseMs = Math.min(2 * pauseMs, RESERVATION_PAUSE_MS[1])) {
      const outcome = await this.tryToAdmit(subjects, true);
      if ('admitted' in outcome) return outcome.admitted;
      if (!outcome.refusal.undecidedAhead || Date.now() + pauseMs > deadline) throw refusalError(outcome.refusal, message);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  private async tryToAdmit(
    subjects: readonly RateSubject[],
    undecided: boolean,
  ): Promise<{ admitted: Reservation } | { refusal: Refusal }> {
    const seen = await Promise.all(subjects.map((subject) => this.recent(subject, subject.limit.max, undecided)));
    const full = firstOver(subjects, seen, 0);
    if (full) return { refusal: full };
    const hitAt = cql.TimeUuid.now();
    await Promise.all(
      subjects.map((subject) =>
        undecided
          ? this.cassandra.execute('INSERT INTO rate_limit_hits (subject, hit_at, pending) VALUES (?, ?, true) USING TTL ?', [
              subject.key,
              hitAt,
              subject.limit.windowSeconds,
            ])
          : this.cassandra.execute('INSERT INTO rate_limit_hits (subject, hit_at) VALUES (?, ?) USING TTL ?', [
              subject.key,
              hitAt,
              subject.limit.windowSeconds,
            ]),
      ),
    );
    const counted = await Promise.all(subjects.map((subject) => this.recent(subject, subject.limit.max + 1, undecided)));
    const forget = (keys: readonly string[]) =>
      Promise.all(
        keys.map((key) => this.cassandra.execute('DELETE FROM rate_limit_hits WHERE subject = ? AND hit_at = ?', [key, hitAt])),
      ).then(() => undefined);
    const over = firstOver(subjects, counted, 1, hitAt.toString());
    if (over) {
      // Refused: it did nothing, so it does not count.
      await forget(subjects.map((subject) => subject.key));
      return { refusal: over };
    }
    return {
      admitted: {
        earlier: counted.map((hits) => hits.filter((hit) => !hit.undecided && hit.id !== hitAt.toString()).length),
        forget,
        reset: async (keys) => {
          // One partition tombstone per subject, not one per row.
          await Promise.all(keys.map((key) => this.cassandra.execute('DELETE FROM rate_limit_hits WHERE subject = ?', [key])));
        },
        settle: async () => {
          const elapsedSeconds = (Date.now() - hitAt.getDate().getTime()) / 1000;
          await Promise.all(
            subjects.map(({ key, limit }) =>
              this.cassandra.execute('UPDATE rate_limit_hits USING TTL ? SET pending = false WHERE subject = ? AND hit_at = ?', [
                // The rest of the row's window, so the decision does not outlive the row.
                Math.max(1, Math.ceil(limit.windowSeconds - elapsedSeconds)),
                key,
                hitAt,
              ]),
            ),
          );
        },
      },
    };
  }

  /** The subject's attempts within its window, newest first, at most `limit` of them. */
  private async recent(subject: RateSubject, limit: number, withDecisions: boolean): Promise<Hit[]> {
    // Only reservations' tables have the pending column.
    const result = await this.cassandra.execute(
      `SELECT hit_at${withDecisions ? ', pending' : ''} FROM rate_limit_hits WHERE subject = ? LIMIT ?`,
      [subject.key, limit],
    );
    return result.rows.map((row) => {
      const hitAt = row.get('hit_at') as TimeUuid;
      return { id: hitAt.toString(), at: hitAt.getDate(), undecided: withDecisions && row.get('pending') === true };
    });
  }
}

/** The first subject with `max + allowance` or more attempts in its window, if any. */
function firstOver(subjects: readonly RateSubject[], hits: Hit[][], allowance: number, ownId?: string): Refusal | undefined {
  const index = subjects.findIndex((subject, i) => hits[i].length >= subject.limit.max + allowance);
  if (index < 0) return undefined;
  const undecidedAhead = hits[index].some((hit) => hit.undecided && hit.id !== ownId);
  return { subject: subjects[index], hits: hits[index], undecidedAhead };
}

function refusalError({ subject: { limit }, hits }: Refusal, message: string) {
  // The window frees a slot when the oldest of the newest `max` attempts ages out.
  const oldestCounted = hits[Math.min(limit.max, hits.length) - 1];
  const retryAfterSeconds = Math.max(1, Math.ceil(limit.windowSeconds - (Date.now() - oldestCounted.at.getTime()) / 1000));
  return rateLimited(`${message} Try again in ${retryAfterSeconds} seconds.`, retryAfterSeconds);
}

/** The actions limited per viewer, and the one limited per client address, with their configured limits. */
const VIEWER_LIMITS = {
  postTweet: 'RATE_LIMIT_POST_TWEET',
  deleteTweet: 'RATE_LIMIT_DELETE_TWEET',
  follow: 'RATE_LIMIT_FOLLOW',
  engage: 'RATE_LIMIT_ENGAGE',
  updateProfile: 'RATE_LIMIT_UPDATE_PROFILE',
  markNotificationsRead: 'RATE_LIMIT_MARK_NOTIFICATIONS_READ',
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
