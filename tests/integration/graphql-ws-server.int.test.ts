import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';

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
