import { badUserInput, unauthenticated } from '../../../platform/errors.js';
import { isTimeUuid } from '../../../platform/graphql/ids.js';
import { pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import { DependencyUnavailableError } from '../../../platform/infrastructure-errors.js';
import type { RateLimits } from '../../../platform/limits/rate-limiter.js';
import type { LiveNotifications } from './live.js';
import type { NotificationModel } from './model.js';
import type { NotificationRepository } from './repository.js';
import type { Retention } from './retention.js';
import { millisOf, notAfter } from './timeuuids.js';

export interface NotificationServiceDeps {
  notifications: NotificationRepository;
  live: LiveNotifications;
  rateLimits: RateLimits;
  retention: Retention;
}

/** A read marker a little ahead of the clock is allowed (clocks differ); one far ahead is not a notification id. */
const CLOCK_SKEW_MS = 60_000;
const ATTEMPTS = 20;

/** The signed-in viewer's own notifications. */
export class NotificationService {
  constructor(
    private readonly deps: NotificationServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  async list(args: { first?: number | null; after?: string | null }) {
    const viewerId = this.viewer();
    const page = await this.deps.notifications.page(viewerId, pageRequest(args));
    return toConnection(
      page,
      (item) => item.id,
      ({ id, kind, actorId, tweetId, read }): NotificationModel => ({
        id,
        kind,
        actor: { id: actorId },
        tweet: tweetId ? { id: tweetId } : null,
        createdAt: new Date(millisOf(id)),
        read,
      }),
    );
  }

  /** Read from one row: the unread buckets not yet expired (retention.ts). */
  async unreadCount(): Promise<number> {
    const snapshot = await this.deps.notifications.snapshot(this.viewer(), []);
    return this.deps.retention.unreadCount(snapshot.unread, Date.now());
  }

  /**
   * Marks `upTo` and every older notification read; the unread count after. The marker only moves forward. Buckets
   * older than upTo's have nothing unread left and newer ones lose nothing; only upTo's own bucket is counted again
   * (its notifications after upTo: one bucket, a 60th of the retention, at most).
   */
  async markRead(upTo: string): Promise<number> {
    const viewerId = this.viewer();
    if (!isTimeUuid(upTo) || millisOf(upTo) > Date.now() + CLOCK_SKEW_MS) {
      throw badUserInput('upTo', 'upTo is not a notification id.');
    }
    await this.deps.rateLimits.perViewer('markNotificationsRead', viewerId);
    const { notifications, retention } = this.deps;
    const bucket = retention.bucketOf(millisOf(upTo));
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const nowMs = Date.now();
      const snapshot = await notifications.snapshot(viewerId, []);
      if (snapshot.readUpTo !== null && notAfter(upTo, snapshot.readUpTo)) return retention.unreadCount(snapshot.unread, nowMs);
      const unread = new Map([...snapshot.unread].filter(([other]) => other > bucket));
      if (snapshot.unread.has(bucket)) {
        unread.set(bucket, await notifications.countBetween(viewerId, upTo, new Date(retention.bucketEndMs(bucket))));
      }
      if (await notifications.markRead(viewerId, snapshot, upTo, unread, nowMs)) return retention.unreadCount(unread, nowMs);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
    throw new DependencyUnavailableError('the notifications kept changing while they were being marked read');
  }

  live(): AsyncIterableIterator<NotificationModel> {
    return this.deps.live.subscribe(this.viewer());
  }

  private viewer(): string {
    if (!this.scope.viewerId) throw unauthenticated();
    return this.scope.viewerId;
  }
}
