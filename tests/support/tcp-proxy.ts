import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A loopback TCP proxy whose link can be cut and restored, to take a service away from a client without stopping it. */
export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void;
  restore(): void;
  /**
   * Silently stops every open connection (nothing more is forwarded, nothing is closed), as a peer that died without
   * a word would; new connections still work.
   */
  blackholeOpenConnections(): void;
  /**
   * The next AMQP connection is let through its handshake, then goes silent both ways as its client opens its first
   * channel: a broker that took the connection and stopped answering (one shutting down, or wedged). Resolves once
   * it has.
   */
  stallNextAmqpConnectionAtFirstChannel(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let linked = true;
  let stallNext: (() => void) | undefined;
  const server: Server = createServer((client) => {
    if (!linked) return client.destroy();
    const upstream = connect(targetPort, targetHost);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const stall = stallNext;
    stallNext = undefined;
    if (stall) forwardUntilFirstChannel(client, upstream, stall);
    else client.pipe(upstream).pipe(client);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.on('close', () => pairs.delete(pair));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    cut: () => {
      linked = false;
      for (const socket of sockets) socket.destroy();
    },
    restore: () => {
      linked = true;
    },
    blackholeOpenConnections: () => {
      for (const [client, upstream] of pairs) silence(client, upstream);
      pairs.clear();
    },
    stallNextAmqpConnectionAtFirstChannel: () => new Promise<void>((resolve) => (stallNext = resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const AMQP_PROTOCOL_HEADER_BYTES = 8;
const AMQP_FRAME_HEADER_BYTES = 7;
const AMQP_FRAME_END_BYTES = 1;

/** Nothing more forwarded either way, nothing closed: whatever arrives is read and dropped. */
function silence(client: Socket, upstream: Socket): void {
  client.unpipe(upstream);
  upstream.unpipe(client);
  // Resumed: unpiping paused them, and a 'data' listener does not undo that.
  client.on('data', () => undefined).resume();
  upstream.on('data', () => undefined).resume();
}

/** Forwards the client's whole frames while they are on channel 0 (the handshake), then silences the link. */
function forwardUntilFirstChannel(client: Socket, upstream: Socket, onStall: () => void): void {
  upstream.pipe(client);
  let pending = Buffer.alloc(0);
  let headerForwarded = false;
  const forward = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    if (!headerForwarded) {
      if (pending.length < AMQP_PROTOCOL_HEADER_BYTES) return;
      upstream.write(pending.subarray(0, AMQP_PROTOCOL_HEADER_BYTES));
      pending = pending.subarray(AMQP_PROTOCOL_HEADER_BYTES);
      headerForwarded = true;
    }
    while (pending.length >= AMQP_FRAME_HEADER_BYTES) {
      if (pending.readUInt16BE(1) !== 0) {
        client.off('data', forward);
        silence(client, upstream);
        onStall();
        return;
      }
      const frameBytes = AMQP_FRAME_HEADER_BYTES + pending.readUInt32BE(3) + AMQP_FRAME_END_BYTES;
      if (pending.length < frameBytes) return;
      upstream.write(pending.subarray(0, frameBytes));
      pending = pending.subarray(frameBytes);
    }
  };
  client.on('data', forward);
}
