import type { EventBus } from '../../../platform/messaging/bus.js';
import type { DomainEvent } from '../../../platform/messaging/events.js';
import type { Inbox } from './inbox.js';
import type { NotificationRepository } from './repository.js';
import { changesOf } from './rules.js';

/** Deliveries handled side by side: other recipients' notifications go on while one recipient's storm is written. */
const PREFETCH = 256;

/**
 * Notifications are made from other services' events; each is applied idempotently (subjects remember the version
 * of their last change), so redelivery and any order between services converge.
 */
export async function consumeNotificationEvents(bus: EventBus, inbox: Inbox, notifications: NotificationRepository) {
  const notifyWhenSomethingHappened = (event: DomainEvent) => inbox.apply(changesOf(event));

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
