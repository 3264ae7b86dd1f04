import type { Server } from 'node:http';

import { type DocumentNode, GraphQLError, type GraphQLSchema, parse, validate } from 'graphql';
import type { ServerOptions } from 'graphql-ws';
import { type Extra, useServer } from 'graphql-ws/use/ws';
import { type ServerOptions as WsServerOptions, WebSocketServer } from 'ws';

import { textKeyedCache } from '../limits/text-keyed-cache.js';

/** Largest websocket message accepted (a subscribe message is a few KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export interface GraphQLWebSocketServer {
  wsServer: WebSocketServer;
  stop(): Promise<void>;
}

export interface WebSocketServerOptions {
  /** How often every client is pinged. Defaults to graphql-ws's 12 s. */
  keepAliveMs?: number;
  /** Admits or refuses an upgrade before the socket opens (ws's verifyClient). */
  verifyClient?: WsServerOptions['verifyClient'];
}

/**
 * graphql-ws on the /graphql path of an HTTP server (the router's and the subgraphs'). graphql-ws pings every client
 * each `keepAliveMs` and terminates one that does not answer within as long, so a client that vanished without
 * closing (a dropped network) does not keep its subscriptions, here and upstream, forever.
 */
export function serveGraphQLOverWebSocket<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>>(
  httpServer: Server,
  options: ServerOptions<P, Extra & Partial<E>>,
  { keepAliveMs = 12_000, verifyClient }: WebSocketServerOptions = {},
): GraphQLWebSocketServer {
  // A bigger message closes its socket with 1009 before it is buffered further (ws's own default is 100 MiB).
  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: MAX_MESSAGE_BYTES, verifyClient });
  const served = useServer<P, E>(options, wsServer, keepAliveMs);
  return {
    wsServer,
    stop: async () => {
      await served.dispose();
      wsServer.close();
    },
  };
}

/**
 * Each operation text parsed and validated once against `schema`: thousands of subscribers sending the same
 * subscription (and the router resubscribing all of them at once) share one document. Keyed by text the client
 * chooses, so bounded in entries and characters; a refusal is remembered as well as an acceptance. Errors carry GRAPHQL_PARSE_FAILED or
 * GRAPHQL_VALIDATION_FAILED, as over HTTP.
 */
export function validatedDocuments(
  schema: GraphQLSchema,
  { maxTokens }: { maxTokens?: number } = {},
): (query: string) => DocumentNode | readonly GraphQLError[] {
  const documents = textKeyedCache<DocumentNode | readonly GraphQLError[]>({ maxEntries: 1_000, maxCharacters: 16 << 20 });
  return (query) => {
    let known = documents.get(query);
    if (!known) {
      try {
        const document = parse(query, { maxTokens });
        const errors = validate(schema, document);
        known = errors.length > 0 ? coded(errors, 'GRAPHQL_VALIDATION_FAILED') : document;
      } catch (error) {
        known = coded([error as GraphQLError], 'GRAPHQL_PARSE_FAILED');
      }
      documents.set(query, known);
    }
    return known;
  };
}

/** Refusals over websockets carry the codes Apollo Server gives the same refusals over HTTP. */
const coded = (errors: readonly GraphQLError[], code: string) =>
  errors.map((error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } }));
