import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { printSchema, Supergraph } from '@apollo/federation-internals';
import { buildSchema, GraphQLError, parse, validate, type ExecutionArgs } from 'graphql';
import type { WebSocket } from 'ws';
import { serveGraphQLOverWebSocket } from '../../subgraphs/shared/graphql-ws-server.js';
import type { Logger } from '../../subgraphs/shared/logger.js';
import type { RouterContext } from './gateway.js';
import type { FederatedSubscriptions } from './subscriptions.js';
import { clientAddressOf, viewerFromHeaders } from './viewer.js';

export interface WebSocketOptions {
  httpServer: Server;
  apollo: ApolloServer<RouterContext>;
  subscriptions: FederatedSubscriptions;
  supergraphSdl: string;
  jwtSecret: string;
  /** Proxy hops whose X-Forwarded-For is believed (ROUTER_TRUST_PROXY), as for HTTP requests. */
  trustedProxyHops: number;
  logger: Logger;
}

/**
 * graphql-ws on the router's /graphql: subscriptions (federated, see subscriptions.ts), and queries and mutations
 * too, as graphql-ws clients expect. connection_init must carry `{ "authorization": "Bearer <token>" }`:
 * without it the socket is closed with 4401, with a bad token with 4403.
 */
export function serveWebSockets(options: WebSocketOptions): () => Promise<void> {
  const apiSchema = buildSchema(printSchema(Supergraph.build(options.supergraphSdl).apiSchema()));
  const contexts = new WeakMap<object, RouterContext>();
  const sockets = new WeakMap<object, WebSocket>();

  return serveGraphQLOverWebSocket<Record<string, unknown>, Record<PropertyKey, never>>(
    options.httpServer,
    {
      onConnect: (ctx) => {
        // Any spelling of the key: Sandbox and other clients send headers as connection params as typed.
        const params = ctx.connectionParams ?? {};
        const authorization = Object.entries(params).find(([key]) => key.toLowerCase() === 'authorization')?.[1];
        if (typeof authorization !== 'string' || !authorization) {
          ctx.extra.socket.close(4401, 'Unauthorized: send { "authorization": "Bearer <token>" } in connection_init');
          return false;
        }
        try {
          const viewerId = viewerFromHeaders({ authorization }, options.jwtSecret);
          contexts.set(ctx.extra, {
            viewerId,
            clientAddress: clientAddressOf(ctx.extra.request, options.trustedProxyHops),
            correlationId: crypto.randomUUID(),
          });
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: (ctx, _id, payload): ExecutionArgs | readonly GraphQLError[] => {
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as GraphQLError];
        }
        const errors = validate(apiSchema, document);
        if (errors.length > 0) return errors;
        const contextValue = { ...contexts.get(ctx.extra)! };
        sockets.set(contextValue, ctx.extra.socket as unknown as WebSocket);
        return {
          schema: apiSchema,
          document,
          variableValues: payload.variables ?? {},
          operationName: payload.operationName ?? undefined,
          contextValue,
        };
      },
      execute: async (args) => {
        const response = await options.apollo.executeOperation(
          { query: payload(args), variables: args.variableValues ?? {}, operationName: args.operationName ?? undefined },
          { contextValue: args.contextValue as RouterContext },
        );
        if (response.body.kind !== 'single') throw new Error('incremental delivery is not supported over websockets');
        return response.body.singleResult as never;
      },
      subscribe: (args) =>
        closeWhenFarBehind(
          options.subscriptions.subscribe(
            args.document,
            (args.variableValues ?? {}) as Record<string, unknown>,
            args.operationName ?? undefined,
            args.contextValue as RouterContext,
          ),
          sockets.get(args.contextValue as object),
          options.logger,
        ),
    },
  ).stop;
}

/** Bytes queued for a client that is not reading before the router gives up on it. */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * A client that stops reading must not make the router buffer without bound: once too much is waiting to be sent,
 * its socket is closed with a reason (and its subscriptions, here and on the subgraph, end with it).
 */
function closeWhenFarBehind<T>(events: AsyncIterableIterator<T>, socket: WebSocket | undefined, logger: Logger): AsyncIterableIterator<T> {
  const guarded: AsyncIterableIterator<T> = {
    next: async () => {
      if (socket && socket.bufferedAmount > MAX_UNSENT_BYTES) {
        logger.warn('closing a subscriber that stopped reading', { unsentBytes: socket.bufferedAmount });
        socket.close(4429, 'Too far behind: the client is not reading its subscription');
        await events.return?.();
        return { done: true, value: undefined };
      }
      return events.next();
    },
    return: async () => (await events.return?.()) ?? { done: true, value: undefined },
    throw: async (error) => {
      if (events.throw) return events.throw(error);
      throw error;
    },
    [Symbol.asyncIterator]() {
      return guarded;
    },
  };
  return guarded;
}

/** Apollo Server takes the operation as text; the document was parsed from the client's text, so print it back. */
function payload(args: ExecutionArgs): string {
  return args.document.loc?.source.body ?? '';
}
