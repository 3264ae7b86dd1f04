import type { IncomingMessage, Server } from 'node:http';

import { printSchema, Supergraph } from '@apollo/federation-internals';
import type { ApolloServer } from '@apollo/server';
import { buildSchema, type ExecutionArgs, type ExecutionResult, getOperationAST, GraphQLError } from 'graphql';
import type { WebSocket } from 'ws';

import { mapAsyncIterator } from '../../platform/async-iterators.js';
import { badRequest, unauthenticated } from '../../platform/errors.js';
import { serveGraphQLOverWebSocket, validatedDocuments } from '../../platform/http/graphql-ws.js';
import { logServerErrors, maskResult, maskUnexpectedErrors } from '../../platform/http/masking.js';
import { type RequestScope, sensibleCorrelationId } from '../../platform/identity/request-scope.js';
import type { Logger } from '../../platform/logging.js';
import { liveItemsDelivered, liveSubscriptions, websocketSockets } from '../../platform/observability/metrics.js';
import { declaredVariables, operationLimitError, type OperationLimits, repetitionError } from './operation-limits.js';
import { type AnswerBudget, answerBudget } from './subgraph-http.js';
import type { FederatedSubscriptions } from './subscriptions.js';
import { accessTokenFromHeaders, clientAddressOf } from './viewer.js';
import { type WebSocketLimitOptions, WebSocketLimits } from './websocket-limits.js';

export interface WebSocketOptions {
  httpServer: Server;
  apollo: ApolloServer<RequestScope>;
  subscriptions: FederatedSubscriptions;
  supergraphSdl: string;
  jwtSecret: string;
  /** Proxy hops whose X-Forwarded-For is believed (ROUTER_TRUST_PROXY), as for HTTP requests. */
  trustedProxyHops: number;
  /** The same operation limits as over HTTP. */
  limits: OperationLimits;
  sockets: WebSocketLimitOptions;
  /** Bytes of subgraph answers one query or mutation may gather (ROUTER_MAX_RESPONSE_BYTES), as over HTTP. */
  maxResponseBytes: number;
  /** Bytes a socket may have waiting to be sent before it is closed with 4429 (ROUTER_WS_MAX_UNSENT_BYTES). */
  maxUnsentBytes: number;
  logger: Logger;
}

/** What the router knows about one socket: its viewer's context, until when its token is good, and its socket. */
interface Connection {
  /** The viewer and address; each operation on the socket adds its own correlation id. */
  context: Omit<RequestScope, 'correlationId'>;
  /** When its token expires, in epoch milliseconds. */
  expiresAt: number;
  socket: WebSocket;
}

/** The per-operation context: the socket's, plus how to free the operation's subscription slot. */
interface OperationContext extends RequestScope {
  connection: Connection;
  release?: () => void;
}

/**
 * The longest subscription text accepted: a live subscription keeps its document for as long as it lives, so a viewer's
 * 32 of them must not hold 32 MiB of padding. README's subscription is about 80 characters.
 */
const MAX_SUBSCRIPTION_CHARACTERS = 16 << 10;
/** graphql-ws clients number their operations; a UUID is 36 characters. */
const MAX_ID_CHARACTERS = 128;

/** How often sockets are checked for an expired token: a socket outlives its token by at most this. */
const EXPIRY_SWEEP_MS = 1_000;

/**
 * graphql-ws on the router's /graphql: subscriptions (federated, see subscriptions.ts), and queries and mutations
 * too, as graphql-ws clients expect. connection_init must carry `{ "authorization": "Bearer <token>" }`:
 * without it the socket is closed with 4401, with a bad token with 4403, and when the token expires, with 4403 too
 * (the client reconnects with a fresh one). Sockets, messages and subscriptions are capped (websocket-limits.ts).
 */
export function serveWebSockets(options: WebSocketOptions): () => Promise<void> {
  const apiSchema = buildSchema(printSchema(Supergraph.build(options.supergraphSdl).apiSchema()));
  const connections = new WeakMap<object, Connection>();
  const addressOf = (request: IncomingMessage) => clientAddressOf(request, options.trustedProxyHops);
  const limits = new WebSocketLimits(options.sockets, addressOf);

  // One sweep over every open connection: a timer per socket cost each of thousands of idle sockets a few hundred bytes.
  const open = new Set<Connection>();
  const closeExpired = (connection: Connection) => {
    open.delete(connection);
    connection.socket.close(4403, 'Forbidden: the access token expired; reconnect with a fresh one');
  };
  const expirySweep = setInterval(() => {
    const now = Date.now();
    for (const connection of open) {
      // onClose forgets a socket as it closes; this forgets one whose close hook did not get to run.
      if (connection.socket.readyState === connection.socket.CLOSED) open.delete(connection);
      else if (connection.expiresAt <= now) closeExpired(connection);
    }
  }, EXPIRY_SWEEP_MS).unref();

  // One answer's frame must fit the socket's bound with room to spare, or a client reading promptly would be closed
  // with 4429 for asking one big question: over websockets, a big answer is refused as over HTTP, at the smaller budget.
  const maxAnswerBytes = Math.min(options.maxResponseBytes, Math.floor(options.maxUnsentBytes / 2));

  const validDocument = validatedDocuments(apiSchema, {
    maxTokens: options.limits.maxTokens,
    beforeValidation: repetitionError,
  });

  const served = serveGraphQLOverWebSocket<Record<string, unknown>, Record<PropertyKey, never>>(
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
          const token = accessTokenFromHeaders({ authorization }, options.jwtSecret)!;
          const connection: Connection = {
            // The upgrade request is kept until onConnect returns, and graphql-ws runs it once per socket.
            context: { viewerId: token.userId, clientAddress: addressOf(ctx.extra.request!) },
            expiresAt: token.expiresAt.getTime(),
            socket: ctx.extra.socket as unknown as WebSocket,
          };
          connections.set(ctx.extra, connection);
          open.add(connection);
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onClose: (ctx) => {
        const connection = connections.get(ctx.extra);
        if (connection) open.delete(connection);
      },
      // Results arrive with their errors already formatted (masked) by Apollo Server or guardSubscription: send them
      // as they are (graphql-ws would otherwise call toJSON on each error, which formatted errors do not have).
      onNext: (_ctx, _id, _payload, _args, result) => result,
      onSubscribe: (ctx, id, payload): ExecutionArgs | readonly GraphQLError[] => {
        // An operation's id is kept for as long as it lives (graphql-ws keys its operations by it).
        if (id.length > MAX_ID_CHARACTERS) return [badRequest(`An operation id may be at most ${MAX_ID_CHARACTERS} characters.`)];
        const connection = connections.get(ctx.extra)!;
        if (connection.expiresAt <= Date.now()) {
          closeExpired(connection);
          return [unauthenticated('Your token has expired.')];
        }
        const document = validDocument(payload.query);
        if (!('kind' in document)) return document;
        const operationName = payload.operationName ?? undefined;
        const operation = getOperationAST(document, operationName);
        if (!operation) return [badRequest('Name the operation to run: the document has several, or none by that name.')];
        // Only declared variables, coerced, and only once they are known to be small and shallow: nothing below (the
        // cost estimate, the subgraph's subscribe message, cache keys) serialises what the client sent as it is.
        const variables = declaredVariables(apiSchema, operation, payload.variables);
        if (!('coerced' in variables)) return variables.errors;
        const variableValues = variables.coerced;
        const limitError = operationLimitError(apiSchema, document, variableValues, operationName, options.limits);
        if (limitError) return [limitError];
        // Each operation its own correlation id: the client's (`extensions.correlationId`, as sane as the header's) or new.
        const correlationId = sensibleCorrelationId(payload.extensions?.correlationId);
        const contextValue: OperationContext = { ...connection.context, correlationId, connection };
        if (operation.operation === 'subscription' && payload.query.length > MAX_SUBSCRIPTION_CHARACTERS)
          return [badRequest(`A subscription's text may be at most ${MAX_SUBSCRIPTION_CHARACTERS} characters.`)];
        // graphql-ws keeps the subscribe message for as long as the operation lives: it keeps only what is needed
        // from now on, not the client's raw variables and extensions (a live subscription held 11 MiB of nesting).
        Object.assign(payload, { variables: variableValues, extensions: undefined });
        const reserved =
          operation.operation === 'subscription'
            ? limits.reserveSubscription(ctx.extra, connection.context.viewerId!)
            : limits.reserveOperation(ctx.extra);
        if (reserved instanceof GraphQLError) return [reserved];
        contextValue.release = reserved;
        return { schema: apiSchema, document, variableValues, operationName, contextValue };
      },
      execute: async (args) => {
        const context = args.contextValue as OperationContext;
        try {
          const response = await options.apollo.executeOperation(
            { query: payload(args), variables: args.variableValues ?? {}, operationName: args.operationName ?? undefined },
            { contextValue: withBudget(routerContext(context), maxAnswerBytes) },
          );
          if (response.body.kind !== 'single') throw new Error('incremental delivery is not supported over websockets');
          return response.body.singleResult as never;
        } finally {
          context.release?.();
        }
      },
      subscribe: async (args) => {
        const context = args.contextValue as OperationContext;
        try {
          const events = await options.subscriptions.subscribe(
            args.document,
            (args.variableValues ?? {}) as Record<string, unknown>,
            args.operationName ?? undefined,
            routerContext(context),
          );
          return guardSubscription(events, context, options);
        } catch (error) {
          // A refusal (planning, the subscribe message's size) or a fault: an answer with a coded error, never a throw,
          // which graphql-ws would turn into closing the whole socket.
          context.release?.();
          const result = {
            errors: [
              error instanceof GraphQLError ? error : new GraphQLError('subscribe failed', { originalError: error as Error }),
            ],
          };
          logServerErrors(options.logger, result.errors, context.correlationId);
          return maskResult(result);
        }
      },
    },
    { verifyClient: limits.verifyClient, logger: options.logger, maxUnsentBytes: options.maxUnsentBytes },
  );
  limits.track(served.wsServer);
  const unobserve = [
    websocketSockets.observe(() => [[{}, limits.sockets]]),
    liveSubscriptions.observe(() => [[{ service: 'router' }, limits.subscriptions]]),
  ];
  return async () => {
    clearInterval(expirySweep);
    unobserve.forEach((stop) => stop());
    await served.stop();
  };
}

/** What travels to the gateway and subgraphs: no socket, no slot. */
const routerContext = ({ viewerId, clientAddress, correlationId }: OperationContext): RequestScope => ({
  viewerId,
  clientAddress,
  correlationId,
});

/**
 * Each event of a client's subscription leaves through here: its errors pass the same masking as HTTP responses, and
 * when the subscription ends, however it ends, its slot is freed. A failure after it started is masked too (see
 * failedSubscription). (A client that stops reading is closed by the socket adapter's one bound on what waits to be
 * sent, platform/http/graphql-ws.ts.)
 */
export function guardSubscription(
  events: AsyncIterableIterator<ExecutionResult>,
  context: OperationContext,
  options: Pick<WebSocketOptions, 'logger'>,
): AsyncIterableIterator<ExecutionResult> {
  return mapAsyncIterator(
    events,
    (event) => {
      liveItemsDelivered.inc({ service: 'router' });
      if (event.errors) logServerErrors(options.logger, event.errors, context.correlationId);
      return maskResult(event);
    },
    context.release,
    (error) => failedSubscription(error, context.correlationId, options.logger),
  );
}

/**
 * What a subscription that failed while live (an event none could resolve, the upstream given up on) throws for its
 * client. graphql-ws sends whatever is thrown as the operation's `error`, with its own message, and without a code
 * unless it had one: this one is masked as results are, its code kept when it is a client's. Logged in one line
 * without a stack: a failure shared by thousands of subscribers (one event resolved for all) would otherwise be
 * thousands of stacks.
 */
function failedSubscription(error: unknown, correlationId: string, logger: Logger): GraphQLError {
  const thrown =
    error instanceof GraphQLError ? error : new GraphQLError('subscription failed', { originalError: error as Error });
  logServerErrors(logger, [thrown], correlationId, { withStack: false });
  const { message, extensions } = maskUnexpectedErrors(thrown.toJSON(), thrown);
  // graphql-ws wraps what is thrown in an error of its own, which takes this one's extensions.
  return new GraphQLError(message, { extensions });
}

/** A query's or mutation's scope with its answer budget (what the router's HTTP context carries too). */
function withBudget(scope: RequestScope, maxResponseBytes: number): RequestScope {
  const budgeted: RequestScope & { answerBudget: AnswerBudget } = { ...scope, answerBudget: answerBudget(maxResponseBytes) };
  return budgeted;
}

/** Apollo Server takes the operation as text; the document was parsed from the client's text, so print it back. */
function payload(args: ExecutionArgs): string {
  return args.document.loc?.source.body ?? '';
}
