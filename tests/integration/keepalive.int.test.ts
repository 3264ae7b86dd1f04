import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { keepAlive } from '../../subgraphs/shared/keepalive.js';
import { eventually } from '../support/client.js';

describe('websocket keep-alive', () => {
  it('keeps answering clients and drops one that stopped answering pings', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => server.once('listening', resolve));
    const stop = keepAlive(server, 50);
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const open = async () => {
      const socket = new WebSocket(url);
      await new Promise((resolve) => socket.once('open', resolve));
      return socket;
    };
    const [healthy, vanished] = await Promise.all([open(), open()]);
    await eventually(async () => expect(server.clients.size).toBe(2));

    // Stop reading at the TCP level, as a client whose network went away: it can no longer answer pings.
    (vanished as unknown as { _socket: { pause(): void } })._socket.pause();
    await eventually(async () => expect(server.clients.size).toBe(1), { timeoutMs: 3_000 });
    expect(healthy.readyState).toBe(WebSocket.OPEN);

    stop();
    healthy.close();
    vanished.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
});
