import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Pings every client on an interval and terminates those that did not answer the previous ping, so a client that
 * vanished without closing (a dropped network) does not keep its subscriptions, here and upstream, forever.
 */
export function keepAlive(wsServer: WebSocketServer, intervalMs = 30_000): () => void {
  const alive = new WeakMap<WebSocket, boolean>();
  wsServer.on('connection', (socket) => {
    alive.set(socket, true);
    socket.on('pong', () => alive.set(socket, true));
  });
  const timer = setInterval(() => {
    for (const socket of wsServer.clients) {
      if (!alive.get(socket)) {
        socket.terminate();
        continue;
      }
      alive.set(socket, false);
      socket.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
