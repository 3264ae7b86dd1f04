import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { buildSchema, GraphQLError } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { serveGraphQLOverWebSocket } from '../../platform/http/graphql-ws.js';
import type { Logger } from '../../platform/logging.js';
import { SubgraphConnection, type SubgraphConnectionOptions } from '../../router/src/subgraph-connection.js';
import { eventually } from '../support/client.js';

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A subgraph's real websocket server (the one every subgraph serves) whose `ticks` subscription relays `tick()`. */
async function subgraph({ groupNext = false } = {}) {
  const listening = new Set<{ name: string; queue: AsyncQueue<{ ticks: string }> }>();
  /** Every subscription the subgraph was asked for, by name. */
  const subscribed: string[] = [];
  const connectionParams: unknown[] = [];
  const httpServer = createServer();
  const served = serveGraphQLOverWebSocket(
    httpServer,
    {
      schema: buildSchema('type Query { ok: Boolean } type Subscription { ticks(name: String!): String! }'),
      roots: {
        subscription: {
          ticks: ({ name }: { name: string }) => {
            const listener = { name, queue: new AsyncQueue<{ ticks: string }>(100, () => listening.delete(listener)) };
            listening.add(listener);
            subscribed.push(name);
            return listener.queue;
          },
        },
      },
      onConnect: ({ connectionParams: params }) => void connectionParams.push(params),
    },
    { groupNext },
  );
  let pings = 0;
  served.wsServer.on('connection', (socket) =>
    socket.on('message', (data) => {
      if (String(data) === '{"type":"ping"}') pings++;
    }),
  );
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    await served.stop();
    await new Promise((resolve) => httpServer.close(resolve));
  });
  return {
    url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`,
    sockets: served.wsServer.clients,
    connectionParams,
    /** Every subscription listening gets this tick. */
    tick: (value: number) => {
      for (const { name, queue } of listening) queue.push({ ticks: `${name}${value}` });
    },
    listeners: () => listening.size,
    pings: () => pings,
    subscribed,
    /** The subgraph fails the subscriptions of this name with this error (an `error` message each). */
    fail: (name: string, error: Error) => {
      for (const listener of listening) if (listener.name === name) listener.queue.fail(error);
    },
    /** Stops the websocket server as a subgraph does on SIGTERM (every socket closed with 1001). */
    stop: () => served.stop(),
    /** The subgraph ends the subscriptions of this name (a `complete` message each). */
    end: (name: string) => {
      for (const listener of listening) if (listener.name === name) listener.queue.end();
    },
  };
}

/** A websocket server playing a subgraph that does not follow the protocol: `onConnection` is all it does. */
async function rawSubgraph(onConnection: (socket: WebSocket, connection: number) => void) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  let connections = 0;
  server.on('connection', (socket) => onConnection(socket, ++connections));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server, connections: () => connections };
}

function connection(url: string, options: Partial<SubgraphConnectionOptions> = {}) {
  let connects = 0;
  const connected = new SubgraphConnection({
    url,
    connectionParams: () => ({ connect: ++connects }),
    pingIntervalMs: 5_000,
    pongTimeoutMs: 5_000,
    maxMessageBytes: 1 << 20,
    logger: silent,
    subgraph: 'test',
    ...options,
  });
  cleanups.push(() => connected.dispose());
  return connected;
}

/** A subscription to `ticks(name)` on the connection, recording what reaches its sink. */
function subscribe(on: SubgraphConnection, name: string, query = 'subscription($name: String!) { ticks(name: $name) }') {
  const received = { events: [] as unknown[], error: undefined as unknown, completed: false };
  const id = on.subscribe(
    { query, variables: { name } },
    {
      event: (event) => void received.events.push((event as { data: { ticks: string } }).data.ticks),
      failed: (error) => void (received.error = error),
      completed: () => void (received.completed = true),
    },
  );
  const unsubscribe = () => on.unsubscribe(id);
  return { received, unsubscribe };
}

describe("the router's connection to a subgraph's websocket", () => {
  it('hands each event to its own subscription, all on one socket', async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    const [a, b] = [subscribe(upstream, 'a'), subscribe(upstream, 'b')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    feed.tick(1);
    feed.tick(2);
    await eventually(async () =>
      expect([a.received.events, b.received.events]).toEqual([
        ['a1', 'a2'],
        ['b1', 'b2'],
      ]),
    );
    expect(feed.sockets.size).toBe(1);

    a.unsubscribe();
    await eventually(async () => expect(feed.listeners()).toBe(1));
    feed.tick(3);
    await eventually(async () => expect(b.received.events).toEqual(['b1', 'b2', 'b3']));
    expect(a.received.events).toEqual(['a1', 'a2']);
  });

  it('takes one grouped message for every subscription given the same result', async () => {
    const feed = await subgraph({ groupNext: true });
    const upstream = connection(feed.url);
    const same = [subscribe(upstream, 'x'), subscribe(upstream, 'x'), subscribe(upstream, 'x')];
    const other = subscribe(upstream, 'y');
    await eventually(async () => expect(feed.listeners()).toBe(4));
    // What the subgraph writes to the router's one socket.
    const frames: string[] = [];
    const [socket] = feed.sockets;
    const sent = socket.send.bind(socket);
    socket.send = ((data: string, ...rest: never[]) => (frames.push(String(data)), sent(data, ...rest))) as typeof socket.send;
    feed.tick(1);
    feed.end('x');
    await eventually(async () => expect(same.every(({ received }) => received.completed)).toBe(true));
    expect(same.map(({ received }) => received.events)).toEqual([['x1'], ['x1'], ['x1']]);
    expect(other.received.events).toEqual(['y1']);
    const nexts = frames.filter((frame) => frame.includes('"type":"next"'));
    expect(nexts).toHaveLength(2);
    expect(nexts.map((frame) => (JSON.parse(frame) as { ids: string[] }).ids.length).sort()).toEqual([1, 3]);
  });

  it('gets the grouped results of a tick the subgraph stops in before its close', async () => {
    const feed = await subgraph({ groupNext: true });
    const upstream = connection(feed.url);
    const same = [subscribe(upstream, 'x'), subscribe(upstream, 'x')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    feed.tick(1);
    // After the results are handed over and held (the microtasks of this turn), before the flush they wait for.
    process.nextTick(() => void feed.stop());
    await eventually(async () => expect(same.map(({ received }) => received.events)).toEqual([['x1'], ['x1']]));
  });

  it('takes an error whose extensions hold the grouped marker for that subscription alone', async () => {
    const feed = await subgraph({ groupNext: true });
    const upstream = connection(feed.url);
    const [a, b] = [subscribe(upstream, 'a'), subscribe(upstream, 'b')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    feed.fail('a', new GraphQLError('boom', { extensions: { code: 'X', type: 'next', payload: 1 } }));
    await eventually(async () => expect(a.received.error).toBeDefined());
    feed.tick(1);
    await eventually(async () => expect(b.received.events).toEqual(['b1']));
    expect(b.received.error).toBeUndefined();
  });

  it('closes its socket when the last subscription ends, and opens one for the next', async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    subscribe(upstream, 'a').unsubscribe();
    const b = subscribe(upstream, 'b');
    await eventually(async () => expect(feed.listeners()).toBe(1));
    b.unsubscribe();
    await eventually(async () => expect(feed.sockets.size).toBe(0));
    expect(upstream.size).toBe(0);

    const c = subscribe(upstream, 'c');
    await eventually(async () => expect(feed.listeners()).toBe(1));
    feed.tick(1);
    await eventually(async () => expect(c.received.events).toEqual(['c1']));
    // 'a' ended before its connection was acknowledged: the subgraph never heard of it.
    expect(feed.subscribed).toEqual(['b', 'c']);
  });

  it('completes a subscription the subgraph ends, and closes the socket when it was the last', async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    const [a, b] = [subscribe(upstream, 'a'), subscribe(upstream, 'b')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    feed.end('a');
    await eventually(async () => expect(a.received.completed).toBe(true));
    expect([upstream.size, feed.sockets.size, b.received.completed]).toEqual([1, 1, false]);
    feed.end('b');
    await eventually(async () => expect(b.received.completed).toBe(true));
    await eventually(async () => expect(feed.sockets.size).toBe(0));
  });

  it('keeps one connection while the subgraph answers its pings', async () => {
    const feed = await subgraph();
    // Pings every 50 ms, each answered within a second (a loaded machine may stall for tens of milliseconds): a pong
    // that did not clear its deadline would have the link terminated a second after the first ping.
    const upstream = connection(feed.url, { pingIntervalMs: 50, pongTimeoutMs: 1_000 });
    const a = subscribe(upstream, 'a');
    await eventually(async () => expect(feed.listeners()).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    feed.tick(1);
    await eventually(async () => expect(a.received.events).toEqual(['a1']));
    expect([feed.connectionParams.length, feed.subscribed]).toEqual([1, ['a']]);
    expect(feed.pings()).toBeGreaterThanOrEqual(5);
  });

  it('sends its subscriptions again, with fresh connection params, after the replica goes away', async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    const [a, b] = [subscribe(upstream, 'a'), subscribe(upstream, 'b')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    for (const socket of feed.sockets) socket.close(1001, 'Going away');

    await eventually(async () =>
      expect(feed.connectionParams).toEqual([
        { connect: 1, groupedNext: true },
        { connect: 2, groupedNext: true },
      ]),
    );
    await eventually(async () => expect(feed.listeners()).toBe(2));
    feed.tick(1);
    await eventually(async () => expect([a.received.events, b.received.events]).toEqual([['a1'], ['b1']]));
    expect([a.received.error, b.received.error, a.received.completed]).toEqual([undefined, undefined, false]);
  });

  it('ends every subscription on it with an error when the subgraph closes it for a reason of its own', async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    const [a, b] = [subscribe(upstream, 'a'), subscribe(upstream, 'b')];
    await eventually(async () => expect(feed.listeners()).toBe(2));
    for (const socket of feed.sockets) socket.close(4500, 'Internal server error');

    await eventually(async () => expect(b.received.error).toBeInstanceOf(Error));
    expect(String(a.received.error)).toContain('4500');
    expect(upstream.size).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(feed.connectionParams).toHaveLength(1);
  });

  it("passes the subgraph's refusal of one subscription to it alone", async () => {
    const feed = await subgraph();
    const upstream = connection(feed.url);
    const good = subscribe(upstream, 'a');
    const refused = subscribe(upstream, 'b', 'subscription { nothing }');
    await eventually(async () => expect(refused.received.error).toBeDefined());
    expect((refused.received.error as { message: string }[])[0]!.message).toContain('nothing');
    feed.tick(1);
    await eventually(async () => expect(good.received.events).toEqual(['a1']));
    expect(upstream.size).toBe(1);
  });

  it('terminates a link whose subgraph stopped answering pings, and reconnects', async () => {
    // A subgraph that acknowledges, then never answers a ping, as one behind a link gone half-open.
    const silent = await rawSubgraph((socket) =>
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'connection_init') socket.send('{"type":"connection_ack"}');
      }),
    );
    const upstream = connection(silent.url, { pingIntervalMs: 50, pongTimeoutMs: 50 });
    subscribe(upstream, 'a');
    await eventually(async () => expect(silent.connections()).toBeGreaterThanOrEqual(2), { timeoutMs: 5_000 });
  });

  it('gives up on a link the subgraph never acknowledges; after it and five reconnections, ends its subscriptions', async () => {
    // A subgraph that upgrades and answers pings, but whose onConnect never returns.
    const stuck = await rawSubgraph((socket) =>
      socket.on('message', (data) => {
        if (JSON.parse(String(data)).type === 'ping') socket.send('{"type":"pong"}');
      }),
    );
    // Half a second for each (a handshake, too, on a busy machine): about 7 s of unacknowledged links and back-off.
    const upstream = connection(stuck.url, { pingIntervalMs: 250, pongTimeoutMs: 250 });
    const a = subscribe(upstream, 'a');
    await eventually(async () => expect(String(a.received.error)).toContain('4504 Connection acknowledgement timeout'), {
      timeoutMs: 20_000,
    });
    // The first connection and five more, each closed unacknowledged.
    expect(stuck.connections()).toBe(6);
    expect(upstream.size).toBe(0);
  });

  it('ends its subscriptions when the subgraph answers outside the protocol, and reconnects no more once disposed', async () => {
    const garbling = await rawSubgraph((socket, connection) => {
      if (connection === 1) socket.send('null');
    });
    const logged: string[] = [];
    const recording: Logger = { ...silent, info: (message: string) => void logged.push(message) };
    const upstream = connection(garbling.url, { logger: recording });
    const a = subscribe(upstream, 'a');
    await eventually(async () => expect(String(a.received.error)).toContain('4004'));
    expect(upstream.size).toBe(0);

    // A subgraph that goes away: the connection waits to reconnect, and is disposed of meanwhile.
    const b = subscribe(upstream, 'b');
    await eventually(async () => expect(garbling.connections()).toBe(2));
    for (const socket of garbling.server.clients) socket.terminate();
    // Disposed of once it has said it is reconnecting (it waits at least 125 ms first).
    await eventually(async () => expect(logged).toContain('a subscription link to a subgraph closed; reconnecting'));
    upstream.dispose();
    expect(b.received.completed).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(garbling.connections()).toBe(2);
  });
});
