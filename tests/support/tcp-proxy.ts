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
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let linked = true;
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
    client.pipe(upstream).pipe(client);
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
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        // Whatever arrives is read and dropped: the peer sees a link that takes data and never answers.
        client.on('data', () => undefined);
        upstream.on('data', () => undefined);
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
