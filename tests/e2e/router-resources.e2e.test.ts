import { connect, type Socket } from 'node:net';

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
  uniqueClientAddress,
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
    router = await routerWith({ ROUTER_MAX_PLANNING_MS: 300 });
    await gql(`{ __typename }`, {}, { url: router.url }); // the planner's thread has started
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('refuses an operation that plans too long with QUERY_TOO_COMPLEX, answering others meanwhile', async () => {
    const other = `query Other { __typename }`;
    await gql(other, {}, { url: router.url }); // planned once; its plan is cached from then on
    let heavyAnswered = false;
    const heavy = gql(slowToPlan(12, 'A'), {}, { url: router.url }).finally(() => (heavyAnswered = true));
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
    const first: GraphQLResponse = await gql(slowToPlan(12, 'B'), {}, { url: router.url });
    expect(codes(first)).toEqual(['QUERY_TOO_COMPLEX']);
    const again = await gql(slowToPlan(12, 'B'), {}, { url: router.url });
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
    for (let n = 0; n < 20; n++) await postTweet(viewer, `${n} ${'a long tweet '.repeat(21)}`, router.url);
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

  it('refuses a query whose answer would not fit the socket’s bound with RESPONSE_TOO_LARGE; the socket goes on', async () => {
    // A bound of 128 KiB and an answer of ~170 KB: before, the frame alone closed a socket that read everything, 4429.
    const bounded = await routerWith({ ROUTER_WS_MAX_UNSENT_BYTES: 128 << 10 });
    try {
      const socket = await graphqlSocket(bounded, viewer.token);
      const received = messagesOf(socket);
      const page = (index: number) => `p${index}: me { tweets(first: 20) { edges { node { text } } } }`;
      const large = `query Large { ${Array.from({ length: 30 }, (_, index) => page(index)).join(' ')} }`;
      socket.send(JSON.stringify({ id: 'large', type: 'subscribe', payload: { query: large } }));
      socket.send(JSON.stringify({ id: 'after', type: 'subscribe', payload: { query: 'query After { __typename }' } }));
      await eventually(async () => expect(received.filter((message) => message.type === 'next')).toHaveLength(2));
      const answerOf = (id: string) => received.find((message) => message.id === id && message.type === 'next').payload;
      expect(answerOf('large')).toMatchObject({ data: null, errors: [{ extensions: { code: 'RESPONSE_TOO_LARGE' } }] });
      expect(answerOf('after')).toEqual({ data: { __typename: 'Query' } });
      expect(socket.readyState).toBe(WebSocket.OPEN);
      socket.close();
    } finally {
      await bounded.stop();
    }
  });

  it('closes a socket that stops reading its answers with 4429, wherever the frames come from', async () => {
    const socket = await graphqlSocket(router, viewer.token);
    // 30 aliased pages of the viewer's 20 long tweets: ~170 KB an answer.
    const page = (index: number) => `p${index}: me { tweets(first: 20) { edges { node { text } } } }`;
    const large = `query Large { ${Array.from({ length: 30 }, (_, index) => page(index)).join(' ')} }`;
    // Asked at the pace the router answers (slower on a cluster or a busy machine), so that most are answered rather
    // than refused by the cap of 4 in flight: answers must outgrow the kernel's buffers and then the router's bound.
    const timedStart = performance.now();
    socket.send(JSON.stringify({ id: 'timed', type: 'subscribe', payload: { query: large } }));
    expect((await nextMessage(socket)).type).toBe('next');
    // At most 150 ms: all 100 asked within the 24 s after which a socket that answers no ping is ended.
    const paceMs = Math.min(150, Math.max(40, (performance.now() - timedStart) / 3));
    // Pause reading at the TCP level and keep asking: answers pile up in the kernel's buffers, then in the router's.
    (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    for (let id = 0; id < 100; id++) {
      socket.send(JSON.stringify({ id: String(id), type: 'subscribe', payload: { query: large } }));
      await new Promise((resolve) => setTimeout(resolve, paceMs));
    }
    const closed = closeCodeOf(socket);
    await new Promise((resolve) => setTimeout(resolve, 500));
    (socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(4429);
    // A hundred answers of ~170 KB each: slow when another test file keeps the router busy too.
  }, 90_000);

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
    // Live: neither refused nor ended (it may already carry items, e.g. posts an earlier test's author fanned out late).
    expect(received.filter((message) => message.id === 'undeclared' && message.type !== 'next')).toEqual([]);
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
      // Live once an item arrives. One read waits across the attempts: a read given up on would still take the next
      // item, and under load (a first item slower than an attempt) every item went to an abandoned read.
      const firstItem = nextText();
      await eventually(
        async () => {
          await postTweet(author, 'warm-up', router.url);
          return await Promise.race([
            firstItem,
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error('not live yet')), 1_000)),
          ]);
        },
        { timeoutMs: 40_000 },
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
  }, 60_000);
});

/** A request whose headers arrive and whose body never finishes: it stays in flight until the router gives up on it. */
async function stalledRequest(
  router: RunningServer,
  headers: Record<string, string>,
  options: { localAddress?: string } = {},
): Promise<Socket> {
  const { port } = new URL(router.url);
  const socket = connect({ host: '127.0.0.1', port: Number(port), localAddress: options.localAddress });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const lines = Object.entries({ 'content-type': 'application/json', 'content-length': '1000', ...headers }).map(
    ([name, value]) => `${name}: ${value}\r\n`,
  );
  socket.write(`POST /graphql HTTP/1.1\r\nhost: localhost\r\n${lines.join('')}\r\n{"query":`);
  return socket;
}

/** The first bytes the router sends back on a raw socket. */
const answerOf = (socket: Socket) => new Promise<string>((resolve) => socket.once('data', (data) => resolve(String(data))));

/** When the socket is closed; what arrives meanwhile is read and dropped (an unread socket never sees the end). */
const closed = (socket: Socket) =>
  new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve()).resume()));

describe('HTTP clients', () => {
  let router: RunningServer;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    router = await routerWith({
      ROUTER_MAX_REQUESTS_PER_CLIENT: 2,
      ROUTER_MAX_REQUESTS_PER_VIEWER: 2,
      ROUTER_MAX_RESPONSE_BYTES: 3_000,
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await router?.stop();
  });

  it('refuses an answer larger than a request may gather with RESPONSE_TOO_LARGE, whole', async () => {
    const author = await signUp('bigans', 'Big answers', router.url);
    for (let n = 0; n < 12; n++) await postTweet(author, `${n} ${'long tweet '.repeat(25)}`, router.url);
    const page = `query ($u: String!, $n: Int) { user(username: $u) { id tweets(first: $n) { edges { node { text } } } } }`;
    const refused = await gql(page, { u: author.username, n: 20 }, { url: router.url });
    expect(refused).toEqual({ data: null, errors: [expect.objectContaining({ extensions: { code: 'RESPONSE_TOO_LARGE' } })] });
    const small = await gql(page, { u: author.username, n: 2 }, { url: router.url });
    expect(small.data?.user.tweets.edges).toHaveLength(2);
  });

  it('refuses requests beyond the cap in flight from one address with 429 RATE_LIMITED, and not other addresses', async () => {
    const [crowded, other] = [uniqueClientAddress(), uniqueClientAddress()];
    const held = [
      await stalledRequest(router, { 'x-forwarded-for': crowded }),
      await stalledRequest(router, { 'x-forwarded-for': crowded }),
    ];
    sockets.push(...held);
    // One more from the address: refused while the two are in flight (the first two are admitted before it, in order).
    const third = await stalledRequest(router, { 'x-forwarded-for': crowded });
    sockets.push(third);
    expect(await answerOf(third)).toMatch(/^HTTP\/1.1 429[\s\S]*"code":"RATE_LIMITED"/);
    expect((await gql('{ __typename }', {}, { url: router.url, clientAddress: other })).data).toEqual({ __typename: 'Query' });
    for (const socket of held) socket.destroy();
    await eventually(async () =>
      expect((await gql('{ __typename }', {}, { url: router.url, clientAddress: crowded })).data).toBeTruthy(),
    );
  });

  it('refuses requests beyond the cap in flight for one viewer, from any address', async () => {
    const [viewer, someone] = [await signUp('inflight', 'In flight', router.url), await signUp('other', 'Other', router.url)];
    const asViewer = () => ({ 'x-forwarded-for': uniqueClientAddress(), authorization: `Bearer ${viewer.token}` });
    sockets.push(await stalledRequest(router, asViewer()), await stalledRequest(router, asViewer()));
    const third = await stalledRequest(router, asViewer());
    sockets.push(third);
    expect(await answerOf(third)).toMatch(/^HTTP\/1.1 429[\s\S]*"code":"RATE_LIMITED"/);
    expect((await gql('{ me { id } }', {}, { url: router.url, token: someone.token })).data?.me.id).toBe(someone.id);
  });
});

describe('HTTP connections', () => {
  let router: RunningServer;
  beforeAll(async () => {
    router = await routerWith({
      ROUTER_REQUEST_TIMEOUT_MS: 1_000,
      ROUTER_HEADERS_TIMEOUT_MS: 1_000,
      ROUTER_TRUST_PROXY: 0,
      RATE_LIMIT_EXEMPT_LOOPBACK: false,
      ROUTER_MAX_CONNECTIONS_PER_CLIENT: 2,
    });
  });
  afterAll(async () => {
    await router?.stop();
  });

  it('drops a request whose body stalls once its time is up, not minutes later', async () => {
    const socket = await stalledRequest(router, {}, { localAddress: '127.0.0.21' });
    await Promise.race([
      closed(socket),
      new Promise((_, reject) => setTimeout(() => reject(new Error('still open after 10 s')), 10_000)),
    ]);
  });

  it('drops connections beyond the cap from one peer, and not from others', async () => {
    const open = async (localAddress: string) => {
      const socket = connect({ host: '127.0.0.1', port: Number(new URL(router.url).port), localAddress });
      await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      return socket;
    };
    const crowded = [await open('127.0.0.22'), await open('127.0.0.22')];
    const third = await open('127.0.0.22');
    await Promise.race([
      closed(third),
      new Promise((_, reject) => setTimeout(() => reject(new Error('third still open')), 5_000)),
    ]);
    const elsewhere = await open('127.0.0.23');
    elsewhere.write('GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nhost: localhost\r\napollo-require-preflight: true\r\n\r\n');
    expect(await answerOf(elsewhere)).toMatch(/^HTTP\/1.1 200[\s\S]*"__typename":"Query"/);
    for (const socket of [...crowded, elsewhere]) socket.destroy();
  });
});
