import { type Client, createClient } from 'graphql-ws';
import { inject } from 'vitest';
import WebSocket from 'ws';

import { postTweet, type TestUser } from './client.js';

const FEED_ITEM_ADDED = `subscription { feedItemAdded { id text createdAt author { username displayName } } }`;

export interface FeedSubscription {
  /** The next event, or an error if none arrives within the deadline. */
  next(timeoutMs?: number): Promise<any>;
  close(): Promise<void>;
}

/**
 * A real graphql-ws client subscribed to feedItemAdded through a router (the shared one by default). It returns once
 * the subscription is known to be live end to end: the user posts a warm-up tweet and receives it (warm-ups are
 * then filtered out of what the test sees). Delivery is at least once around the moment a subscription opens (a
 * fan-out tried again after a write that landed), so tweets the test saw in the timeline before subscribing
 * (`shownBefore`) are filtered out too.
 */
export async function subscribeToFeed(
  user: TestUser,
  routerUrl: string = inject('routerUrl'),
  /** Must select feedItemAdded { id } or feedEdgeAdded { node { id } }. */
  query = FEED_ITEM_ADDED,
  { shownBefore = [] }: { shownBefore?: readonly string[] } = {},
): Promise<FeedSubscription> {
  const client: Client = createClient({
    url: routerUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
  });
  const warmUps = new Set<string>();
  const filtered = new Set(shownBefore);
  let warmUpArrived: (() => void) | undefined;
  const received: any[] = [];
  const waiters: ((event: any) => void)[] = [];
  const unsubscribe = client.subscribe(
    { query },
    {
      next: (event) => {
        // Warm-ups only ever reach the warm-up loop (late or repeated ones are dropped).
        const data = event.data as any;
        const id = data?.feedItemAdded?.id ?? data?.feedEdgeAdded?.node.id;
        if (warmUps.has(id)) {
          warmUpArrived?.();
          return;
        }
        if (filtered.has(id)) return;
        const waiter = waiters.shift();
        if (waiter) waiter(event);
        else received.push(event);
      },
      error: (error) => {
        const waiter = waiters.shift();
        if (waiter) waiter({ error });
        else received.push({ error });
      },
      complete: () => undefined,
    },
  );
  const next = (timeoutMs = 10_000): Promise<any> => {
    const early = received.shift();
    if (early) return Promise.resolve(early);
    return new Promise((resolve, reject) => {
      const waiter = (event: any) => {
        clearTimeout(timer);
        resolve(event);
      };
      // A waiter that gave up leaves the queue, so the next event goes to whoever asks next.
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no feed event within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  for (let attempt = 0; ; attempt++) {
    const warmUp = await postTweet(user, `warm-up ${attempt}`, routerUrl);
    warmUps.add(warmUp);
    // A warm-up's live push may beat the mutation's answer, arriving before its id was known: it waits among the
    // received, where it would pass for the test's first item.
    const early = received.filter((event) => warmUps.has(event.data?.feedItemAdded?.id));
    if (early.length > 0) {
      received.splice(0, received.length, ...received.filter((event) => !early.includes(event)));
      break;
    }
    const arrived = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 2_000);
      warmUpArrived = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    if (arrived) break;
    if (attempt >= 4) throw new Error('the subscription never delivered a warm-up tweet');
  }
  warmUpArrived = undefined;

  return {
    next,
    close: async () => {
      unsubscribe();
      await client.dispose();
    },
  };
}

/** Opens a socket with the given connection_init payload and reports how the router closed it. */
export function closeCodeFor(
  connectionParams: Record<string, unknown>,
  routerUrl: string = inject('routerUrl'),
): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => {
    const client = createClient({
      url: routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams,
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
      on: { closed: (event) => resolve({ code: (event as CloseEvent).code, reason: (event as CloseEvent).reason }) },
    });
    void client;
  });
}
