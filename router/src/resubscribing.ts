import { setTimeout as delay } from 'node:timers/promises';

import { GraphQLError } from 'graphql';
import type { SubscribePayload } from 'graphql-ws';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { ErrorCode } from '../../platform/errors.js';
import type { SubgraphConnection } from './subgraph-connection.js';

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
  let current = once(subscribe());
  /** Ended for the subscriber: returned by it, completed, or failed for good. */
  let over = false;
  let lossesInARow = 0;
  const finished: IteratorResult<T> = { done: true, value: undefined };

  const iterator: AsyncIterableIterator<T> = {
    next: async () => {
      for (;;) {
        if (over) return finished;
        try {
          const result = await current.events.next();
          if (result.done) {
            over = true;
            current.release();
            return finished;
          }
          lossesInARow = 0;
          return result;
        } catch (error) {
          current.release();
          if (over) return finished;
          if (error instanceof GraphQLError) {
            over = true; // the router's own verdict on this subscriber (heldEvents): nothing to subscribe again for
            throw error;
          }
          if (Array.isArray(error)) {
            over = true;
            throw refusal(error as { message: string; extensions?: Record<string, unknown> }[]);
          }
          if (++lossesInARow > maxAttempts) {
            over = true;
            throw new GraphQLError('The live feed is unavailable right now; subscribe again shortly.', {
              extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
            });
          }
          await delay(backoffMs * lossesInARow);
          if (over) return finished;
          current = once(subscribe());
        }
      }
    },
    return: async () => {
      if (!over) {
        over = true;
        current.release();
        await current.events.return?.();
      }
      return finished;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/** The subscription, whose release frees its place once however often it is called. */
function once<T>(subscription: UpstreamSubscription<T>): UpstreamSubscription<T> {
  const wrapped = {
    events: subscription.events,
    released: false,
    release: () => {
      if (wrapped.released) return;
      wrapped.released = true;
      subscription.release();
    },
  };
  return wrapped;
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
  client: Pick<SubgraphConnection, 'subscribe'>,
  request: SubscribePayload,
  capacity = MAX_HELD_EVENTS,
): AsyncIterableIterator<T> {
  let dispose = () => {};
  const queue = new AsyncQueue<T>(capacity, () => dispose());
  dispose = client.subscribe(request, {
    next: (event) => {
      if (queue.push(event as T)) return;
      queue.fail(
        new GraphQLError('The subscription fell too far behind and was closed.', {
          extensions: { code: ErrorCode.RATE_LIMITED },
        }),
      );
      dispose();
    },
    // A lost connection after the events it brought: the subscriber has them before it subscribes again.
    error: (error) => queue.end(error),
    complete: () => queue.end(),
  });
  return queue;
}
