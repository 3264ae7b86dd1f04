import { setTimeout as sleep } from 'node:timers/promises';

import { DependencyUnavailableError } from '../../../platform/infrastructure-errors.js';
import type { Logger } from '../../../platform/logging.js';
import type { NotificationKind } from './model.js';
import type { NotificationRepository } from './repository.js';
import type { Retention } from './retention.js';
import { applyChanges, type Change } from './rules.js';
import { millisOf } from './timeuuids.js';

/**
 * Changes written to one recipient's partition in one conditional batch: each is a notification row and a subject row
 * (about 430 bytes for a repost), so a round is under 30 kB, clear of Cassandra's 50 kB batch limit. Rounds of 40
 * fell behind 1,000 likes a second for one user (570/s), rounds of 100 kept up (npm run bench:system -- --only storm);
 * 64 keeps a repost's round clear of the batch limit.
 */
export const ROUND_SIZE = 64;
const ATTEMPTS = 20;
/**
 * A recipient whose round filled up is in a storm: when other recipients' rounds were written meanwhile (or wait to
 * be), its lane waits this many times as long as the full round took before its next, so the storm takes at most a
 * quarter of the time, and of Cassandra, that it could while others need them; alone, it is written back to back. The
 * wait follows the rounds' own time: a busier machine writes storms more slowly. On the 2-core benchmark machine, with
 * a storm of 10,000 likes at 1,000 a second, four ordinary users' notifications while it was being published were
 * p50 1.8-1.9x (p99 1.7-3.6x) their latency alone, against 1.6-3.6x (p99 1.7-5.8x) written back to back, and about
 * their latency alone while the rest of the storm was written; the storm was counted in full 7-11 s after its last
 * like instead of at once (npm run bench:system -- --only storm). The rest of a storm's cost is its delivery: the bus,
 * the feed's copy of the likes and this consumer take its likes at the rate they come.
 */
const STORM_YIELD = 3;
/** The longest a storm's lane waits: a round slowed by a fault (timeouts, retries) is no measure of anyone's need. */
const MAX_YIELD_MS = 1_000;

export interface NewNotification {
  id: string;
  kind: NotificationKind;
  actorId: string;
  tweetId: string | null;
}

interface Waiting {
  change: Change;
  settle: (error?: unknown) => void;
}

/**
 * Writes changes to recipients' partitions. Each recipient has one lane: its changes wait there while a round is being
 * written, and the next round takes all that waited (up to ROUND_SIZE) in one conditional batch. A storm of 10,000
 * likes for one user is a hundred rounds or so one after the other, never 10,000 lightweight transactions fighting
 * over one partition, and other recipients' lanes run beside it. Lanes exist only while their changes wait: their
 * number is bounded by the deliveries the consumer holds (its prefetch).
 */
export class Inbox {
  private readonly lanes = new Map<string, Waiting[]>();
  /**
   * Rounds ended, written or failed, by every lane so far: a storm's lane tells from it whether others had rounds
   * meanwhile.
   */
  private roundsEnded = 0;

  constructor(
    private readonly notifications: NotificationRepository,
    private readonly retention: Retention,
    private readonly announce: (recipientId: string, added: NewNotification[]) => Promise<void>,
    private readonly logger: Logger,
    /** How a lane in a storm waits between rounds (tests hold it to watch what happens meanwhile). */
    private readonly yieldFor: (ms: number) => Promise<unknown> = sleep,
  ) {}

  /**
   * Splits changes into those to apply now and those for recipients already a round or more behind (a storm): those
   * are better queued elsewhere than held here, where they would take the consumer's deliveries from everyone else.
   */
  congested(changes: readonly Change[]): { now: Change[]; later: Change[] } {
    const behind = (change: Change) => (this.lanes.get(change.recipientId)?.length ?? 0) >= ROUND_SIZE;
    return { now: changes.filter((change) => !behind(change)), later: changes.filter(behind) };
  }

  /** Applies the changes; resolves once every one is written (or found already written). */
  async apply(changes: readonly Change[]): Promise<void> {
    await Promise.all(
      changes.map(
        (change) =>
          new Promise<void>((resolve, reject) => {
            const waiting: Waiting = { change, settle: (error) => (error === undefined ? resolve() : reject(error)) };
            const lane = this.lanes.get(change.recipientId);
            if (lane) return void lane.push(waiting);
            const opened = [waiting];
            this.lanes.set(change.recipientId, opened);
            void this.drain(change.recipientId, opened);
          }),
      ),
    );
  }

  private async drain(recipientId: string, lane: Waiting[]): Promise<void> {
    while (lane.length > 0) {
      const round = lane.splice(0, ROUND_SIZE);
      const [startedAt, roundsBefore] = [performance.now(), this.roundsEnded];
      let written = false;
      try {
        await this.write(
          recipientId,
          round.map((waiting) => waiting.change),
        );
        written = true;
        for (const waiting of round) waiting.settle();
      } catch (error) {
        for (const waiting of round) waiting.settle(error ?? new Error('the round failed'));
      }
      this.roundsEnded++;
      const othersBusy = this.roundsEnded - roundsBefore > 1 || this.lanes.size > 1;
      if (written && round.length === ROUND_SIZE && lane.length > 0 && othersBusy) {
        await this.yieldFor(Math.min((performance.now() - startedAt) * STORM_YIELD, MAX_YIELD_MS)).catch(() => undefined);
      }
    }
    this.lanes.delete(recipientId);
  }

  /**
   * One round: read the partition, apply the rules, write the outcome if nothing changed it meanwhile. A change about
   * a deleted tweet becomes forgetting it, so a round tried again after its tweet was deleted still removes what an
   * earlier try wrote. Losing the partition to other writers (other replicas' lanes) ATTEMPTS times in a row is
   * contention, not a fault of the events: the bus holds them and tries again later, without counting it against them.
   */
  private async write(recipientId: string, changes: readonly Change[]): Promise<void> {
    const ids = {
      newId: () => this.notifications.newId(),
      bucketOf: (id: string) => this.retention.bucketOf(millisOf(id)),
      kept: (id: string) => this.retention.ttlSeconds(this.retention.bucketOf(millisOf(id)), Date.now()) > 60,
    };
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const nowMs = Date.now();
      const [snapshot, deleted] = await Promise.all([
        this.notifications.snapshot(recipientId, [...new Set(changes.map((change) => change.subject))]),
        this.notifications.deletedAmong(tweetIdsOf(changes)),
      ]);
      const applicable = changes.map((change): Change =>
        change.type === 'notify' && deleted.has(change.tweetId ?? '')
          ? { type: 'forget', recipientId, subject: change.subject }
          : change,
      );
      const outcome = applyChanges(snapshot, applicable, ids);
      if (outcome.subjects.size === 0) return;
      await this.notifications.indexByTweet(recipientId, outcome.added);
      if (await this.notifications.commit(recipientId, snapshot, outcome, nowMs)) {
        await this.forgetDeletedMeanwhile(recipientId, outcome.added);
        const announced = new Set(outcome.announced);
        const news = outcome.added.filter((added) => announced.has(added.id)).map(({ subject: _, ...rest }) => rest);
        // Not awaited: a broker slow to confirm must not hold the recipient's lane.
        void this.announce(recipientId, news).catch((error: unknown) =>
          this.logger.warn('a new notification was not pushed live', { error }),
        );
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
    throw new DependencyUnavailableError(`the notifications of ${recipientId} kept changing under this round`);
  }

  /**
   * A tweet deleted while its notification was being written: the deletion marked it before reading the index, and
   * the index row was written before the round, so either the deletion found the row or this finds the mark.
   */
  private async forgetDeletedMeanwhile(recipientId: string, added: { subject: string; tweetId: string | null }[]) {
    const deleted = await this.notifications.deletedAmong(tweetIdsOf(added));
    const forgotten = added.filter((notification) => deleted.has(notification.tweetId ?? ''));
    if (forgotten.length > 0) {
      await this.write(
        recipientId,
        forgotten.map(({ subject }) => ({ type: 'forget', recipientId, subject })),
      );
    }
  }
}

/** The tweets that notifications (or changes) are about. */
function tweetIdsOf(items: readonly object[]): string[] {
  return [...new Set(items.flatMap((item) => ('tweetId' in item && typeof item.tweetId === 'string' ? [item.tweetId] : [])))];
}
