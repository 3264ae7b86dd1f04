import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { createLogger } from '../../platform/logging.js';
import type { RunningServer } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import {
  codes,
  eventually,
  follow,
  gql,
  type GraphQLResponse,
  postTweet,
  sharedSubgraphUrls,
  signUp,
  type TestUser,
} from '../support/client.js';
import { testConfig } from '../support/infra.js';
import { closeCodeOf, firstResult, nextMessage, routerClient } from '../support/websockets.js';

/**
 * Hostile input, round two: what one client could take from everyone else on the router (its one event loop, its
 * memory). Each test runs a router of its own with the limit under test, in front of the shared subgraphs.
 */

/** Aliased feed pages whose authors' tweets' authors are resolved again: small and cheap, but slow to plan. */
const slowToPlan = (aliases: number, salt: string) =>
  `query Slow${salt} { ${Array.from(
    { length: aliases },
    (_, index) =>
      `a${index}: feed(first: 1) { edges { node { id text author { username followerCount tweets(first: 1) { edges { node { id text author { id username tweetCount } } } } } } } }`,
  ).join(' ')} }`;

async function routerWith(overrides: Partial<ReturnType<typeof testConfig>>): Promise<RunningServer> {
  return startRouter({ ...testConfig(), ...sharedSubgraphUrls(), ...overrides }, createLogger('silent'), 0);
}

describe('validation', () => {
  // 2,000 tokens, within every other limit, and over half a second of validation (every pair of `me` compared).
  const repetitive = `{ ${'me { id } '.repeat(400)} }`;

  it('refuses an operation repeating one field hundreds of times before validating it, over HTTP', async () => {
    expect(codes(await gql(repetitive))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('and over websockets', async () => {
    const viewer = await signUp('repeat');
    const client = routerClient(viewer.token);
    try {
      expect(codes(await firstResult(client, repetitive))).toEqual(['QUERY_TOO_COMPLEX']);
    } finally {
      await client.dispose();
    }
  });
});

describe('query planning', () => {
  let router: RunningServer;
  beforeAll(async () => {
    router = await routerWith({ ROUTER_MAX_PLANNING_MS: 50 });
    await gql(`{ __typename }`, {}, { url: router.url }); // the planner's thread has started
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('refuses an operation that plans too long with QUERY_TOO_COMPLEX, answering others meanwhile', async () => {
    const other = `query Other { __typename }`;
    await gql(other, {}, { url: router.url }); // planned once; its plan is cached from then on
    let heavyAnswered = false;
    const heavy = gql(slowToPlan(6, 'A'), {}, { url: router.url }).finally(() => (heavyAnswered = true));
    // Others keep being answered while it is planned: on the router's own thread they all waited behind it.
    let answeredMeanwhile = 0;
    for (let index = 0; !heavyAnswered && index < 200; index++) {
      const answer = await gql(other, {}, { url: router.url });
      expect(answer.data).toEqual({ __typename: 'Query' });
      if (!heavyAnswered) answeredMeanwhile++;
    }
    expect(codes(await heavy)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(answeredMeanwhile).toBeGreaterThan(0);
  });

  it('refuses the same operation again at once, and plans new ones after a refusal', async () => {
    const first: GraphQLResponse = await gql(slowToPlan(6, 'B'), {}, { url: router.url });
    expect(codes(first)).toEqual(['QUERY_TOO_COMPLEX']);
    const again = await gql(slowToPlan(6, 'B'), {}, { url: router.url });
    expect(again.errors?.[0]?.message).toBe(first.errors?.[0]?.message);
    const fresh = await gql(`query Fresh { user(username: "nobody_here") { id } }`, {}, { url: router.url });
    expect(fresh).toEqual({ data: { user: null } });
  });
});

/** A raw graphql-ws socket on `router`, acknowledged, signed in as `token`. */
async function graphqlSocket(router: RunningServer, token: string): Promise<WebSocket> {
  const socket = new WebSocket(router.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  expect((await nextMessage(socket)).type).toBe('connection_ack');
  return socket;
}

/** Every message the socket receives from now on, parsed. */
function messagesOf(socket: WebSocket): any[] {
  const received: any[] = [];
  socket.on('message', (data) => received.push(JSON.parse(String(data))));
  return received;
}

describe('websockets', () => {
  let router: RunningServer;
  let viewer: TestUser;
  beforeAll(async () => {
    router = await routerWith({ ROUTER_WS_MAX_OPERATIONS_PER_SOCKET: 4 });
    viewer = await signUp('wsres', 'Sockets', router.url);
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('answers a ping carrying a big payload with a bare pong', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    socket.send(JSON.stringify({ type: 'ping', payload: { echo: 'x'.repeat(500_000) } }));
    expect(await nextMessage(socket)).toEqual({ type: 'pong' });
    socket.send(JSON.stringify({ type: 'ping', payload: { echo: 'small' } }));
    expect(await nextMessage(socket)).toEqual({ type: 'pong', payload: { echo: 'small' } });
    socket.close();
  });

  it('refuses queries beyond the cap in flight on one socket with RATE_LIMITED, and answers the rest', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    const received = messagesOf(socket);
    const operations = 30;
    for (let id = 0; id < operations; id++)
      socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: `query Many { __typename }` } }));
    await eventually(async () => expect(received.filter((message) => message.type !== 'next').length).toBe(operations));
    const refused = received.filter((message) => message.type === 'error');
    const answered = received.filter((message) => message.type === 'next');
    expect(refused.length).toBeGreaterThan(0);
    expect(new Set(refused.map((message) => message.payload[0].extensions.code))).toEqual(new Set(['RATE_LIMITED']));
    expect(answered.length).toBe(operations - refused.length);
    expect(answered.every((message) => message.payload.data.__typename === 'Query')).toBe(true);
    socket.close();
  });

  it('closes a socket that stops reading its answers with 4429, wherever the frames come from', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    // Pause reading at the TCP level and keep asking: answers pile up in the kernel's buffers, then in the router's.
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const schema = (index: number) => `s${index}: __schema { types { name description fields { name description } } }`;
    const large = `query Large { ${Array.from({ length: 30 }, (_, index) => schema(index)).join(' ')} }`; // ~200 KB each
    for (let id = 0; id < 100; id++) {
      socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: large } }));
      await new Promise((resolve) => setTimeout(resolve, 20)); // within the cap in flight
    }
    const closed = closeCodeOf(socket);
    await new Promise((resolve) => setTimeout(resolve, 500));
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(4429);
  });

  it('refuses what a live subscription would keep for its lifetime: a padded text, a long id', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    const received = messagesOf(socket);
    const padded = `subscription Padded { feedItemAdded { id } } # ${'x'.repeat(20_000)}`;
    socket.send(JSON.stringify({ id: 'padded', type: 'subscribe', payload: { query: padded } }));
    socket.send(
      JSON.stringify({ id: 'i'.repeat(200), type: 'subscribe', payload: { query: 'subscription { feedItemAdded { id } }' } }),
    );
    await eventually(async () => expect(received.filter((message) => message.type === 'error')).toHaveLength(2));
    expect(received.map((message) => message.payload[0].extensions.code)).toEqual(['BAD_REQUEST', 'BAD_REQUEST']);
    socket.close();
  });

  it('drops undeclared variables unread, and refuses declared ones nested too deep with BAD_USER_INPUT', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    const received = messagesOf(socket);
    // JSON that JSON.stringify could not write back without overflowing the stack.
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const subscribe = (id: string, query: string, variables: string) =>
      socket.send(`{"id":"${id}","type":"subscribe","payload":{"query":"${query}","variables":${variables}}}`);
    subscribe('undeclared', 'subscription Live { feedItemAdded { id } }', `{"deep":${deep}}`);
    subscribe('declared', 'query Deep($flag: Boolean!) { __typename @include(if: $flag) }', `{"flag":${deep}}`);
    await eventually(async () => expect(received.find((message) => message.id === 'declared')).toBeDefined());
    expect(received.find((message) => message.id === 'declared').payload[0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'flag',
    });
    // The subscription is live and the socket open: on main, serialising the variables closed it with 4500.
    socket.send(JSON.stringify({ id: 'after', type: 'subscribe', payload: { query: 'query After { __typename }' } }));
    await eventually(async () => expect(received.find((message) => message.id === 'after')?.type).toBe('next'));
    expect(received.filter((message) => message.id === 'undeclared')).toEqual([]);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
  });
});

describe('subscriptions on a shared subgraph connection', () => {
  let router: RunningServer;
  beforeAll(async () => {
    router = await routerWith({});
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('refuses one too large to forward, and the others on the connection keep theirs', async () => {
    const [author, reader, attacker] = await Promise.all(
      ['shauth', 'shread', 'shatk'].map((prefix) => signUp(prefix, 'Shared', router.url)),
    );
    await follow(reader, author, router.url);
    const clientOf = (token: string) =>
      createClient({
        url: router.url.replace(/^http/, 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
      });
    const readerClient = clientOf(reader.token);
    const live = readerClient.iterate<{ feedItemAdded: { text: string } }>({
      query: 'subscription { feedItemAdded { text } }',
    });
    const nextText = async () => ((await live.next()).value as any)?.data?.feedItemAdded?.text as string | undefined;
    try {
      // Live once an item arrives.
      await eventually(
        async () => {
          await postTweet(author, 'warm-up', router.url);
          return await Promise.race([
            nextText(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not live yet')), 1_000)),
          ]);
        },
        { timeoutMs: 15_000 },
      );
      // Just under the router's 1 MiB message limit; forwarded with the subscriber's assertion, just over the feed's.
      const alias = 'a'.repeat(1024 * 1024 - 200);
      const attackerClient = clientOf(attacker.token);
      const refused = await firstResult(attackerClient, `subscription { ${alias}: feedItemAdded { id } }`);
      expect(codes(refused)).toEqual(['BAD_REQUEST']);
      await attackerClient.dispose();

      const marker = `after-${Date.now()}`;
      await postTweet(author, marker, router.url);
      let text: string | undefined;
      while ((text = await nextText()) !== marker && text !== undefined);
      expect(text).toBe(marker);
    } finally {
      await live.return?.();
      await readerClient.dispose();
    }
  });
});
