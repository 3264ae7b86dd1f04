import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { buildSchema } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { type Extra, serveGraphQLOverWebSocket } from '../../platform/http/graphql-ws.js';
import { eventually } from '../support/client.js';

describe('graphql-ws keep-alive', () => {
  it('keeps answering clients and drops one that stopped answering pings', async () => {
    const httpServer = createServer();
    const served = serveGraphQLOverWebSocket(
      httpServer,
      { schema: buildSchema('type Query { ok: Boolean }') },
      { keepAliveMs: 50 },
    );
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const url = `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`;
    const open = async () => {
      const socket = new WebSocket(url, 'graphql-transport-ws');
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init' }));
      return socket;
    };
    const [healthy, vanished] = await Promise.all([open(), open()]);
    await eventually(async () => expect(served.wsServer.clients.size).toBe(2));

    // Stop reading at the TCP level, as a client whose network went away: it can no longer answer pings.
    (vanished as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(async () => expect(served.wsServer.clients.size).toBe(1), { timeoutMs: 3_000 });
    expect(healthy.readyState).toBe(WebSocket.OPEN);

    healthy.close();
    vanished.terminate();
    await served.stop();
    await new Promise((resolve) => httpServer.close(resolve));
  });
});

describe('graphql-ws sockets', () => {
  it('hand onConnect the upgrade request, then let it go', async () => {
    const httpServer = createServer();
    const seen: { address?: string; extra?: Extra } = {};
    const served = serveGraphQLOverWebSocket(httpServer, {
      schema: buildSchema('type Query { ok: Boolean }'),
      onConnect: (ctx) => {
        seen.address = ctx.extra.request?.socket.remoteAddress;
        seen.extra = ctx.extra;
      },
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const socket = new WebSocket(`ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`, 'graphql-transport-ws');
    await new Promise((resolve) => socket.once('open', resolve));
    const acknowledged = new Promise((resolve) => socket.once('message', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    expect(JSON.parse(String(await acknowledged))).toEqual({ type: 'connection_ack' });

    expect(seen.address).toBe('127.0.0.1');
    // What the socket's operations keep for as long as it lives: no request, no headers.
    expect(seen.extra?.request).toBeUndefined();
    expect(seen.extra?.socket).toBeDefined();

    socket.close();
    await served.stop();
    await new Promise((resolve) => httpServer.close(resolve));
  });
});

describe('graphql-ws frames', () => {
  const closing: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  /** A socket on a server whose `tick` subscription the test feeds, with three subscriptions open on it. */
  async function threeSubscriptions(maxUnsentBytes?: number) {
    const httpServer = createServer();
    const listening: AsyncQueue<{ tick: string }>[] = [];
    const served = serveGraphQLOverWebSocket(
      httpServer,
      {
        schema: buildSchema('type Query { ok: Boolean } type Subscription { tick: String! }'),
        roots: { subscription: { tick: () => (listening.push(new AsyncQueue(10)), listening.at(-1)) } },
      },
      { maxUnsentBytes },
    );
    const writes: number[] = [];
    served.wsServer.on('connection', (server) => {
      const raw = (server as unknown as { _socket: { _writev: (...args: unknown[]) => void } })._socket;
      const writev = raw._writev.bind(raw);
      raw._writev = (chunks, callback) => (writes.push((chunks as unknown[]).length), writev(chunks, callback));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const socket = new WebSocket(`ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`, 'graphql-transport-ws');
    // Closed after the test however it ends.
    closing.push(async () => {
      socket.close();
      await served.stop();
      await new Promise((resolve) => httpServer.close(resolve));
    });
    const messages: { id?: string; type: string; payload?: { data: { tick: string } } }[] = [];
    let closedWith: number | undefined;
    socket.on('message', (data) => messages.push(JSON.parse(String(data))));
    socket.on('close', (code) => (closedWith = code));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'connection_init' }));
    await eventually(async () => expect(messages).toEqual([{ type: 'connection_ack' }]));
    messages.length = 0;
    for (const id of ['1', '2', '3'])
      socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: 'subscription { tick }' } }));
    await eventually(async () => expect(listening).toHaveLength(3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    writes.length = 0;
    return {
      writes,
      messages,
      closedWith: () => closedWith,
      /** One event reaching the three subscriptions at once, as one announcement reaches the router's. */
      tick: (value: string) => listening.forEach((queue) => queue.push({ tick: value })),
    };
  }

  it('sent in one run of the microtask queue leave in one write', async () => {
    const socket = await threeSubscriptions();
    socket.tick('a');
    await eventually(async () => expect(socket.messages.map(({ id }) => id)).toEqual(['1', '2', '3']));
    socket.tick('b');
    await eventually(async () => expect(socket.messages).toHaveLength(6));
    // ws writes each frame as a header and a payload: three frames, six chunks, in one system call, each time.
    expect(socket.writes).toEqual([6, 6]);
  });

  it('held back together do not count as unread against a client that reads', async () => {
    // Three frames of 600 characters at once, to a socket allowed 1,000 bytes unread.
    const socket = await threeSubscriptions(1_000);
    socket.tick('x'.repeat(600));
    await eventually(async () => expect(socket.messages).toHaveLength(3));
    socket.tick('y'.repeat(600));
    await eventually(async () => expect(socket.messages).toHaveLength(6));
    expect(socket.closedWith()).toBeUndefined();
  });
});
