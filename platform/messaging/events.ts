import { randomUUID } from 'node:crypto';

import { currentTraceCarrier, type TraceCarrier } from '../observability/tracing.js';

/** Every message on the bus has this shape (docs/api.md, "Events that are never lost"). */
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
  /** W3C trace context of the operation that caused it (when traced), so its handling joins the same trace. */
  readonly traceContext?: TraceCarrier;
  readonly data: TData;
}

/** The events twtr's services publish: the contract between them. */
export interface DomainEvents {
  'user.created': { userId: string; username: string; displayName: string; createdAt: string };
  /**
   * `inReplyToId`: the tweet it replies to, for a reply, and `inReplyToAuthorId` that tweet's author (absent from events
   * published before notifications existed). `mentionIds`: the users it mentions, in order of first appearance (absent
   * from events published before mentions existed).
   */
  'tweet.created': {
    tweetId: string;
    authorId: string;
    text: string;
    createdAt: string;
    inReplyToId?: string;
    inReplyToAuthorId?: string;
    mentionIds?: string[];
  };
  'tweet.deleted': { tweetId: string; authorId: string };
  /**
   * `version` is the write time (microseconds) of the change in the follows keyspace; consumers write with
   * USING TIMESTAMP version, so duplicates and out-of-order deliveries converge to the latest state.
   */
  'follow.created': { followerId: string; followeeId: string; createdAt: string; version: number };
  'follow.deleted': { followerId: string; followeeId: string; version: number };
  /**
   * Likes and reposts (the engagement subgraph): `userId` liked or reposted `authorId`'s tweet `tweetId`. `engagedAt`
   * (a timeuuid) names this one engagement among the pair's successive ones; `version` is the write time of its rows
   * (created) or of their deletes (deleted), so consumers converge whatever order the two arrive in.
   */
  'like.created': Engagement;
  'like.deleted': Engagement;
  'repost.created': Engagement;
  'repost.deleted': Engagement;
}

interface Engagement {
  tweetId: string;
  authorId: string;
  userId: string;
  engagedAt: string;
  version: number;
}
export type EventType = keyof DomainEvents;

/** The envelope of each event of a map of event types to data: DomainEvents, or a service's own internal work. */
export type EventOf<Events, T extends keyof Events & string = keyof Events & string> = {
  [K in T]: EventEnvelope<K, Events[K]>;
}[T];
export type DomainEvent<T extends EventType = EventType> = EventOf<DomainEvents, T>;

/** Where an event comes from: the request that started it all and, when an event caused it, that event. */
export interface Lineage {
  correlationId: string;
  causationId?: string;
}

/** The lineage of what `cause` makes happen: the same request, caused by `cause`. */
export const causedBy = (cause: EventEnvelope): Lineage => ({ correlationId: cause.correlationId, causationId: cause.id });

/** What a log line about an event carries: which event, of which type, and the request that caused it. */
export const lineageOf = (event: EventEnvelope) => ({
  eventId: event.id,
  type: event.type,
  correlationId: event.correlationId,
  ...(event.causationId ? { causationId: event.causationId } : {}),
});

/** A new event of the shared contract (DomainEvents) or, with `Events`, of a service's own work items. */
export function createEvent<Events = DomainEvents, T extends keyof Events & string = keyof Events & string>(
  type: T,
  data: Events[T],
  lineage: Lineage,
): EventEnvelope<T, Events[T]> {
  const traceContext = currentTraceCarrier();
  return {
    id: randomUUID(),
    type,
    occurredAt: new Date().toISOString(),
    ...lineage,
    ...(traceContext && { traceContext }),
    data,
  };
}
