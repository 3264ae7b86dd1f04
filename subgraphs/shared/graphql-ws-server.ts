import type { Server } from 'node:http';
import type { ServerOptions } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

export interface GraphQLWebSocketServer {
  wsServer: WebSocketServer;
  stop(): Promise<void>;
}

/**
 * graphql-ws on the /graphql path of an HTTP server (the router's and the subgraphs'). graphql-ws pings every client
 * each `keepAliveMs` and terminates one that does not answer within as long, so a client that vanished without
 * closing (a dropped network) does not keep its subscriptions, here and upstream, forever.
 */
export function serveGraphQLOverWebSocket<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>>(
  httpServer: Server,
  options: ServerOptions<P, Extra & Partial<E>>,
  /** Defaults to graphql-ws's 12 s. */
  keepAliveMs = 12_000,
): GraphQLWebSocketServer {
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const served = useServer<P, E>(options, wsServer, keepAliveMs);
  return {
    wsServer,
    stop: async () => {
      await served.dispose();
      wsServer.close();
    },
  };
}
