import { setTimeout as delay } from 'node:timers/promises';

import { GraphQLError } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { ErrorCode } from '../../platform/errors.js';
import type { SubgraphConnection, UpstreamSubscriber } from './subgraph-connection.js';

/** Events held for a subscriber that has not taken them yet, as many as the feed's own buffer holds for it. */
export const MAX_HELD_EVENTS = 100;

/** One subscription on a shared subgraph connection, and how to give its place on the connection back. */
export interface UpstreamSubscription<T> {
  events: AsyncIterator<T>;
  release(): void;
}

export interface ResubscribingOptions {
  /** Connection losses in a row, without an event between them, before the subscriber is told. Defaults to 5. */
  maxAttempts?: number;
  /** Wait before the n-th attempt in a row: n times this. Defaults to 250 ms. */
  backoffMs?: number;
}

/**
 * A subscriber's upstream subscription that outlives the connection it is on. Up to a hundred subscribers share one
 * connection to a subgraph, which reconnects by itself after the link or the replica went away; a close for anything
 * else (1009 for a message the subgraph found too big, 4500 for a failure on the subgraph's side) ends every
 * subscription on the connection with an error. Here such a loss makes each subscriber subscribe again (its own
 * identity re-signed by `subscribe`), so no client's subscription ends for what happened on a connection it shares;
 * only one that keeps losing its connection with no event in between is ended, with a coded SERVICE_UNAVAILABLE. A
 * subgraph's refusal of the subscription itself (GraphQL errors) ends it at once, with the subgraph's code.
 */
export function resubscribing<T>(
  subscribe: () => UpstreamSubscription<T>,
  { maxAttempts = 5, backoffMs = 250 }: ResubscribingOptions = {},
): AsyncIterableIterator<T> {
  return new Resubscribing(subscribe, maxAttempts, backoffMs);
}

const FINISHED: IteratorResult<never> = Object.freeze({ done: true, value: undefined });

/** resubscribing's iterator: a class, so each of the thousands a router holds costs its fields, not its closures. */
class Resubscribing<T> implements AsyncIterableIterator<T> {
  private current: UpstreamSubscription<T>;
  /** The current subscription's place on its connection was given back. */
  private released = false;
  /** Ended for the subscriber: returned by it, completed, or failed for good. */
  private over = false;
  private lossesInARow = 0;

  constructor(
    private readonly subscribe: () => UpstreamSubscription<T>,
    private readonly maxAttempts: number,
    private readonly backoffMs: number,
  ) {
    this.current = subscribe();
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.over) return FINISHED;
      try {
        const result = await this.current.events.next();
        if (result.done) {
          this.over = true;
          this.release();
          return FINISHED;
        }
        this.lossesInARow = 0;
        return result;
      } catch (error) {
        this.release();
        if (this.over) return FINISHED;
        if (error instanceof GraphQLError) {
          this.over = true; // the router's own verdict on this subscriber (heldEvents): nothing to subscribe again for
          throw error;
        }
        if (Array.isArray(error)) {
          this.over = true;
          throw refusal(error as { message: string; extensions?: Record<string, unknown> }[]);
        }
        if (++this.lossesInARow > this.maxAttempts) {
          this.over = true;
          throw new GraphQLError('The live feed is unavailable right now; subscribe again shortly.', {
            extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
          });
        }
        await delay(this.backoffMs * this.lossesInARow);
        if (this.over) return FINISHED;
        this.current = this.subscribe();
        this.released = false;
      }
    }
  }

  async return(): Promise<IteratorResult<T>> {
    if (!this.over) {
      this.over = true;
      this.release();
      await this.current.events.return?.();
    }
    return FINISHED;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** Gives the current subscription's place back, once however often it is called. */
  private release() {
    if (this.released) return;
    this.released = true;
    this.current.release();
  }
}

/** The subgraph's first error, with its code (the subgraph masks its own errors before sending them). */
function refusal(errors: { message: string; extensions?: Record<string, unknown> }[]): GraphQLError {
  const [first] = errors;
  return new GraphQLError(first?.message ?? 'The subscription was refused.', {
    extensions: { ...first?.extensions, code: first?.extensions?.code ?? ErrorCode.INTERNAL_SERVER_ERROR },
  });
}

/**
 * A subscription on a shared connection whose events wait for their subscriber in a bounded queue. A client that stops
 * reading its socket stops the taking (graphql-ws writes a subscriber's frames one after another): kept without bound
 * (as graphql-ws's own `iterate` does), one paused client grew the router's memory with every event of its feed. Past
 * `capacity` the subscription ends with RATE_LIMITED, as it does at the feed's buffer.
 */
export function heldEvents<T>(
  connection: Pick<SubgraphConnection, 'subscribe' | 'unsubscribe'>,
  request: SubscribePayload,
  capacity = MAX_HELD_EVENTS,
): AsyncIterableIterator<T> {
  return new HeldEvents<T>(connection, request, capacity);
}

/** heldEvents' queue, which is its subscription's subscriber too (methods, not closures, for each of thousands). */
class HeldEvents<T> extends AsyncQueue<T> implements UpstreamSubscriber {
  private readonly id: string;
  private fellBehind = false;

  constructor(
    private readonly connection: Pick<SubgraphConnection, 'subscribe' | 'unsubscribe'>,
    request: SubscribePayload,
    capacity: number,
  ) {
    super(capacity);
    this.id = connection.subscribe(request, this);
  }

  event(payload: unknown): void {
    if (this.push(payload as T) || this.fellBehind) return;
    this.fellBehind = true;
    this.fail(
      new GraphQLError('The subscription fell too far behind and was closed.', {
        extensions: { code: ErrorCode.RATE_LIMITED },
      }),
    );
    this.connection.unsubscribe(this.id);
  }

  // A lost connection after the events it brought: the subscriber has them before it subscribes again.
  failed(error: unknown): void {
    this.end(error);
  }

  completed(): void {
    this.end();
  }

  protected override finished(): void {
    this.connection.unsubscribe(this.id);
  }
}
