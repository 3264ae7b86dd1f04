import { GraphQLError } from 'graphql';

import { AsyncQueue } from '../../../platform/async-iterators.js';
import type { EventBus } from '../../../platform/messaging/bus.js';
import { liveItemsDelivered, liveSubscriptions } from '../../../platform/observability/metrics.js';
import type { NewNotification } from './inbox.js';
import type { NotificationModel } from './model.js';
import { millisOf } from './timeuuids.js';

const TOPIC = 'notifications.added';
/** Notifications held for a subscriber that is not keeping up before it is cut off. */
const BUFFER_SIZE = 100;

interface Announcement {
  recipientId: string;
  added: NewNotification[];
}

/**
 * New notifications for the subscribers connected to this replica: the replica that wrote them announces them through
 * RabbitMQ to every replica, so a subscriber gets its own wherever its socket is. A notification is announced only
 * when first made, so each reaches a subscriber once.
 */
export class LiveNotifications {
  private readonly subscribers = new Map<string, Set<AsyncQueue<NotificationModel>>>();
  private unobserve = () => {};

  constructor(private readonly bus: EventBus) {}

  async start(): Promise<void> {
    await this.bus.subscribeLive(TOPIC, (payload) => this.deliver(payload as Announcement));
    this.unobserve = liveSubscriptions.observe(() => [[{ service: 'notifications' }, this.size]]);
  }

  stop(): void {
    this.unobserve();
  }

  async announce(recipientId: string, added: NewNotification[]): Promise<void> {
    if (added.length > 0) await this.bus.publishLive(TOPIC, { recipientId, added } satisfies Announcement);
  }

  get size(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  subscribe(viewerId: string): AsyncIterableIterator<NotificationModel> {
    const set = this.subscribers.get(viewerId) ?? new Set();
    const queue = new AsyncQueue<NotificationModel>(BUFFER_SIZE, () => {
      set.delete(queue);
      if (set.size === 0) this.subscribers.delete(viewerId);
    });
    set.add(queue);
    this.subscribers.set(viewerId, set);
    return queue;
  }

  private deliver({ recipientId, added }: Announcement): void {
    for (const queue of this.subscribers.get(recipientId) ?? []) {
      for (const { id, kind, actorId, tweetId } of added) {
        const notification: NotificationModel = {
          id,
          kind,
          actor: { id: actorId },
          tweet: tweetId ? { id: tweetId } : null,
          createdAt: new Date(millisOf(id)),
          read: false,
        };
        if (queue.push(notification)) {
          liveItemsDelivered.inc({ service: 'notifications' });
        } else {
          queue.fail(
            new GraphQLError('The subscription fell too far behind and was closed.', { extensions: { code: 'RATE_LIMITED' } }),
          );
          break;
        }
      }
    }
  }
}
