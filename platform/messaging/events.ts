import { randomUUID } from 'node:crypto';

/** Every message on the bus has this shape (README, "Events that are never lost"). */
export interface EventEnvelope<TType extends string = string, TData = unknown> {
  /** Unique per event; consumers dedupe on it or rely on idempotent writes. */
  readonly id: string;
  /** `<aggregate>.<event>`, also the routing key. */
  readonly type: TType;
  /** ISO-8601. */
  readonly occurredAt: string;
  /** The request that caused it. */
  readonly correlationId: string;
  /** The event that caused it, when an event did. */
  readonly causationId?: string;
  readonly data: TData;
}

/** The events twtr's services publish: the contract between them. */
export interface DomainEvents {
  'user.created': { userId: string; username: string; displayName: string; createdAt: string };
  'tweet.created': { tweetId: string; authorId: string; text: string; createdAt: string };
  'tweet.deleted': { tweetId: string; authorId: string };
  /**
   * `version` is the write time (microseconds) of the change in the follows keyspace; consumers write with
   * USING TIMESTAMP version, so duplicates and out-of-order deliveries converge to the latest state.
   */
  'follow.created': { followerId: string; followeeId: string; createdAt: string; version: number };
  'follow.deleted': { followerId: string; followeeId: string; version: number };
  /**
   * Internal to the feed: part of a big fan-out, split off so one large audience never holds up other authors.
   * One tweet into (or, with remove, out of) these followers' timelines, or with backfill the author's recent tweets
   * (when an author goes back to fan-out on write).
   */
  'feed.fanout-requested': {
    authorId: string;
    followerIds: string[];
    tweetId?: string;
    remove?: boolean;
    backfill?: boolean;
    /** Read-time authors: only tell live subscribers. */
    announceOnly?: boolean;
  };
}
export type EventType = keyof DomainEvents;
export type DomainEvent<T extends EventType = EventType> = { [K in T]: EventEnvelope<K, DomainEvents[K]> }[T];

export function createEvent<T extends EventType>(
  type: T,
  data: DomainEvents[T],
  lineage: { correlationId: string; causationId?: string },
): EventEnvelope<T, DomainEvents[T]> {
  return { id: randomUUID(), type, occurredAt: new Date().toISOString(), ...lineage, data };
}
