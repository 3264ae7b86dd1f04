import { GraphQLError } from 'graphql';

import { AsyncQueue, mapAsyncIterator, SKIP } from '../../../platform/async-iterators.js';
import type { EventBus } from '../../../platform/messaging/bus.js';
import { liveItemsDelivered, liveSubscriptions } from '../../../platform/observability/metrics.js';
import type { TimelineItem } from './model.js';

const TOPIC = 'feed.items';

/** New timeline items, announced by whichever replica fanned them out, to every replica. */
interface Announcement extends TimelineItem {
  userIds: string[];
}

export interface LiveFeedOptions {
  /** Items held for a subscriber that is not keeping up before it is cut off. Defaults to 100. */
  bufferSize?: number;
  /** Checked just before an item is handed over, so a tweet deleted meanwhile is not delivered. */
  stillExists: (item: TimelineItem) => Promise<boolean>;
}

interface Subscriber {
  queue: AsyncQueue<TimelineItem>;
  seen: Set<string>;
}

const SEEN_REMEMBERED = 1_000;
const EXISTENCE_CACHE_MS = 1_000;

/**
 * Live timeline items for the subscribers connected to this replica. The replica that fans a tweet out announces it
 * through RabbitMQ to all replicas, so a subscriber gets its items wherever its socket is. Each subscriber has a
 * bounded buffer (a client too far behind is cut off with a reason) and receives each tweet once.
 */
export class LiveFeed {
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly bufferSize: number;
  private unobserve = () => {};
  /** One existence check per item and replica, not per subscriber: a tweet reaches many subscribers at once. */
  private readonly existence = new Map<string, { checkedAt: number; answer: Promise<boolean> }>();
  /**
   * Each delivered item as each `shown` makes it, once for all its subscribers: handed one object, subscribers with the
   * same operation share one execution of it (subscribeSharingEvents). Lives as long as the item does.
   */
  private readonly shownItems = new WeakMap<TimelineItem, Map<(item: TimelineItem) => unknown, unknown>>();

  constructor(
    private readonly bus: EventBus,
    private readonly options: LiveFeedOptions,
  ) {
    this.bufferSize = options.bufferSize ?? 100;
  }

  async start(): Promise<void> {
    await this.bus.subscribeLive(TOPIC, (payload) => this.deliver(payload as Announcement));
    this.unobserve = liveSubscriptions.observe(() => [[{ service: 'feed' }, this.size]]);
  }

  /** Stops reporting its subscriptions (the bus's close ends the deliveries). */
  stop(): void {
    this.unobserve();
  }

  /** Tells every replica that these users' timelines just gained this item. */
  async announce(item: TimelineItem, userIds: readonly string[]): Promise<void> {
    if (userIds.length === 0) return;
    await this.bus.publishLive(TOPIC, { ...item, userIds: [...userIds] } satisfies Announcement);
  }

  /** How many subscriptions this replica holds (for tests and health). */
  get size(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  /**
   * The items entering the viewer's timeline from now on, each as `shown` makes it (one object per item for every
   * subscriber given the same `shown`: pass a function made once, not one per call).
   */
  subscribe<T>(viewerId: string, shown: (item: TimelineItem) => T): AsyncIterableIterator<T> {
    const set = this.subscribers.get(viewerId) ?? new Set();
    const subscriber: Subscriber = {
      seen: new Set(),
      queue: new AsyncQueue<TimelineItem>(this.bufferSize, () => {
        set.delete(subscriber);
        if (set.size === 0) this.subscribers.delete(viewerId);
      }),
    };
    set.add(subscriber);
    this.subscribers.set(viewerId, set);
    // Checked just before handing an item over, so a tweet deleted meanwhile is not delivered.
    return mapAsyncIterator(subscriber.queue, async (item) => ((await this.stillExists(item)) ? this.shown(item, shown) : SKIP));
  }

  private shown<T>(item: TimelineItem, shown: (item: TimelineItem) => T): T {
    let byShown = this.shownItems.get(item);
    if (!byShown) this.shownItems.set(item, (byShown = new Map()));
    if (!byShown.has(shown)) byShown.set(shown, shown(item));
    return byShown.get(shown) as T;
  }

  private stillExists(item: TimelineItem): Promise<boolean> {
    const now = Date.now();
    const cached = this.existence.get(item.tweetId);
    if (cached && now - cached.checkedAt < EXISTENCE_CACHE_MS) return cached.answer;
    for (const [tweetId, entry] of this.existence)
      if (now - entry.checkedAt >= EXISTENCE_CACHE_MS) this.existence.delete(tweetId);
    const answer = this.options.stillExists(item);
    this.existence.set(item.tweetId, { checkedAt: now, answer });
    return answer;
  }

  private deliver({ userIds, ...item }: Announcement): void {
    for (const userId of userIds) {
      for (const subscriber of this.subscribers.get(userId) ?? []) {
        if (subscriber.seen.has(item.tweetId)) continue;
        subscriber.seen.add(item.tweetId);
        if (subscriber.seen.size > SEEN_REMEMBERED) subscriber.seen.delete(subscriber.seen.values().next().value!);
        if (subscriber.queue.push(item)) {
          liveItemsDelivered.inc({ service: 'feed' });
        } else {
          subscriber.queue.fail(
            new GraphQLError('The subscription fell too far behind and was closed.', { extensions: { code: 'RATE_LIMITED' } }),
          );
        }
      }
    }
  }
}
