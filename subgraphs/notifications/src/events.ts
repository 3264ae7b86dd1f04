import type { EventBus, SubscribeOptions } from '../../../platform/messaging/bus.js';
import { causedBy, createEvent, type DomainEvent } from '../../../platform/messaging/events.js';
import { Deferrals } from './deferrals.js';
import { type Inbox, ROUND_SIZE } from './inbox.js';
import type { NotificationRepository } from './repository.js';
import { type Change, changesOf } from './rules.js';

/** Deliveries handled side by side: other recipients' notifications go on while one recipient's storm is written. */
const PREFETCH = 256;
/**
 * Deferred events (each up to a round of changes, deferrals.ts, for any recipients in a storm) held at once: enough
 * that a few whose rounds are being retried (a partition fought over) leave others going, few enough that their
 * deliveries never hold the process in one long burst.
 */
const STORM_PREFETCH = 16;
/** How long changes set aside wait for others to share their deferred event. */
const GATHER_MS = 20;

/** The notifications subgraph's own work: changes for recipients in a storm, set aside on a queue of their own. */
export interface NotificationWork {
  'notifications.deferred': { changes: Change[] };
}

/**
 * Notifications are made from other services' events; each is applied idempotently (subjects remember the version
 * of their last change), so redelivery and any order between services converge. Changes for a recipient already a
 * round behind (10,000 likes of one tweet) go to `notifications.storms` instead of waiting among the main queue's
 * deliveries, so everyone else's notifications do not queue behind one user's storm (they still share this
 * process's CPU and Cassandra with it).
 */
export async function consumeNotificationEvents(bus: EventBus, inbox: Inbox, notifications: NotificationRepository) {
  const deferrals = new Deferrals(
    (changes, lineage) => bus.publish(createEvent<NotificationWork>('notifications.deferred', { changes }, lineage)),
    ROUND_SIZE,
    GATHER_MS,
  );
  const notifyWhenSomethingHappened = async (event: DomainEvent) => {
    const { now, later } = inbox.congested(changesOf(event));
    await Promise.all([inbox.apply(now), later.length > 0 && deferrals.defer(later, causedBy(event))]);
  };

  /** Marked first, then looked up: a notification written meanwhile is found here or finds the mark (inbox.ts). */
  const forgetNotificationsWhenTweetDeleted = async ({ data }: DomainEvent<'tweet.deleted'>) => {
    await notifications.markTweetDeleted(data.tweetId);
    let pageState: string | undefined;
    do {
      const page = await notifications.aboutTweet(data.tweetId, pageState);
      await inbox.apply(page.rows.map(({ recipientId, subject }) => ({ type: 'forget', recipientId, subject })));
      pageState = page.pageState;
    } while (pageState);
  };

  const storms: SubscribeOptions<NotificationWork> = {
    queue: 'notifications.storms',
    events: ['notifications.deferred'],
    prefetch: STORM_PREFETCH,
    ordered: false,
    handle: async function applyChangesWhenDeferred(event) {
      await inbox.apply(event.data.changes);
    },
  };
  await bus.subscribe<NotificationWork>(storms);
  await bus.subscribe({
    queue: 'notifications',
    events: [
      'tweet.created',
      'tweet.deleted',
      'follow.created',
      'follow.deleted',
      'like.created',
      'like.deleted',
      'repost.created',
      'repost.deleted',
    ],
    prefetch: PREFETCH,
    ordered: false,
    handle: (event) =>
      event.type === 'tweet.deleted' ? forgetNotificationsWhenTweetDeleted(event) : notifyWhenSomethingHappened(event),
  });
}
