import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type RequestHandler } from 'express';
import { type DocumentNode, type GraphQLError, type GraphQLSchema, parse } from 'graphql';

import { ErrorCode, unauthenticated } from '../errors.js';
import {
  type AssertedIdentity,
  correlateRequests,
  correlationIdOf,
  newCorrelationId,
  type RequestScope,
} from '../identity/request-scope.js';
import { REQUEST_ASSERTION_HEADER, requestAssertionVerifier } from '../identity/tokens.js';
import type { Logger } from '../logging.js';
import { traceHttpRequests } from '../observability/tracing.js';
import type { RunningServer } from '../runtime.js';
import { serveGraphQLOverWebSocket, validatedDocuments } from './graphql-ws.js';
import { errorLogging, logServerErrors, maskResult, maskUnexpectedErrors } from './masking.js';
import { serveOperatorEndpoints } from './probes.js';
import { MAX_BODY, refuseUnreadableBodies, sendGraphQLError } from './responses.js';
import { rootFieldMetrics } from './root-field-metrics.js';
import { subscribeSharingEvents } from './shared-events.js';

export interface SubgraphOptions<TContext> {
  name: string;
  /** Path of the subgraph's schema.graphql. */
  schemaFile: URL;
  resolvers: GraphQLResolverMap<TContext>;
  /** Adds the subgraph's per-request context (services, dataloaders). */
  context: (scope: RequestScope) => TContext;
  /** Extra fields for GET /health. */
  health?: () => Record<string, unknown>;
  /** Names the dependencies that do not work right now (empty when ready), for GET /readyz. */
  unavailableDependencies: () => Promise<string[]>;
  internalSecret: string;
  /** Where to listen: loopback unless the deployment needs more (SUBGRAPH_BIND_ADDRESS). */
  bindAddress: string;
  logger: Logger;
}

type AssertionVerifier = ReturnType<typeof requestAssertionVerifier>;

export function loadTypeDefs(schemaFile: URL) {
  return parse(readFileSync(schemaFile, 'utf8'));
}

/**
 * The router's assertion on an HTTP request, verified for this subgraph; without a valid one the request is refused
 * with 401 before its body is read. Only the router may call a subgraph.
 */
function requireRouterAssertion(verifyAssertion: AssertionVerifier): RequestHandler {
  return (request, response, next) => {
    const assertion = request.headers[REQUEST_ASSERTION_HEADER];
    try {
      if (typeof assertion !== 'string') throw unauthenticated('Only the router may call a subgraph.', 401);
      response.locals.assertion = verifyAssertion(assertion);
      next();
    } catch (error) {
      sendGraphQLError(response, 401, ErrorCode.UNAUTHENTICATED, (error as Error).message);
    }
  };
}

/** Serves one subgraph on /graphql with a /health endpoint; port 0 picks a free port. */
export async function startSubgraphServer<TContext extends object>(
  options: SubgraphOptions<TContext>,
  port: number,
): Promise<RunningServer> {
  const { logger } = options;
  const app = express();
  // Express hashes every answer for an ETag by default; no client revalidates a POST, and it was 2% of the CPU of
  // a one-subgraph query.
  app.set('etag', false);
  // Connections from the router's pool stay open longer than the router keeps them idle (router/src/subgraph-http.ts).
  const httpServer: Server = createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, app);
  const typeDefs = loadTypeDefs(options.schemaFile);
  const schema = buildSubgraphSchema([{ typeDefs, resolvers: options.resolvers }]);
  // One verifier for HTTP requests and subscriptions alike: an assertion verified once is known to both.
  const verifyAssertion = requestAssertionVerifier(options.internalSecret, options.name);
  const stopWebSockets = schema.getSubscriptionType()
    ? serveSubscriptions(httpServer, schema, typeDefs, options, verifyAssertion)
    : undefined;
  const server = new ApolloServer<TContext>({
    schema,
    formatError: maskUnexpectedErrors,
    // Inline traces only feed Apollo's hosted reporting, which twtr never uses. No schema has cache hints, and the
    // cache-control plugin's per-field hook made Apollo Server wrap every resolver of every request to find none.
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginInlineTraceDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      rootFieldMetrics(options.name),
      errorLogging(logger),
    ],
    // The router owns the public surface (landing page, introspection policy); subgraphs only answer it.
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // The process's own signal handling (runUntilSignalled) stops everything in order.
    stopOnTerminationSignals: false,
  });
  await server.start();

  app.get('/health', (_request, response) => {
    response.json({ status: 'ok', subgraph: options.name, ...options.health?.() });
  });
  serveOperatorEndpoints(app, options.unavailableDependencies);
  app.use(
    '/graphql',
    requireRouterAssertion(verifyAssertion),
    express.json({ limit: MAX_BODY }),
    correlateRequests,
    traceHttpRequests(options.name),
    expressMiddleware(server, {
      context: async ({ res }) => {
        const { viewerId, clientAddress } = res.locals.assertion as AssertedIdentity;
        return options.context({ viewerId, clientAddress, correlationId: correlationIdOf(res) });
      },
    }),
  );
  app.use(refuseUnreadableBodies);

  await new Promise<void>((resolve) => httpServer.listen(port, options.bindAddress, resolve));
  const { port: boundPort } = httpServer.address() as AddressInfo;
  const url = `http://127.0.0.1:${boundPort}/graphql`;
  logger.info('subgraph listening', { subgraph: options.name, url });
  return {
    url,
    stop: async () => {
      await stopWebSockets?.();
      await server.stop();
    },
  };
}

/**
 * Subscriptions over graphql-ws on the same /graphql path. The router multiplexes its subscribers over one connection:
 * connection_init carries the router's own assertion (`assertion`, no viewer), and each subscribe message carries the
 * subscriber's in `extensions.assertion`. A connection or a subscription whose assertion does not verify is refused
 * (4403, or an UNAUTHENTICATED error for that subscription alone).
 */
function serveSubscriptions<TContext extends object>(
  httpServer: Server,
  schema: GraphQLSchema,
  typeDefs: DocumentNode,
  options: SubgraphOptions<TContext>,
  verifyAssertion: AssertionVerifier,
) {
  const connectionScopes = new WeakMap<object, RequestScope>();
  const subscriptionScopes = new WeakMap<object, RequestScope>();
  // A subscription's own assertion when it sent one, else its connection's.
  const scopeOf = (connection: object, payload: object) => subscriptionScopes.get(payload) ?? connectionScopes.get(connection)!;
  const verify = (assertion: unknown): RequestScope => {
    if (typeof assertion !== 'string') throw unauthenticated('Only the router may call a subgraph.');
    return { ...verifyAssertion(assertion), correlationId: newCorrelationId() };
  };
  // The router sends each subscriber's subscription with the same text: parsed and validated once, not per subscriber.
  const validDocument = validatedDocuments(schema);
  return serveGraphQLOverWebSocket<{ assertion?: string }, Record<PropertyKey, never>>(
    httpServer,
    {
      schema,
      onConnect: (ctx) => {
        try {
          connectionScopes.set(ctx.extra, verify(ctx.connectionParams?.assertion));
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: (_ctx, _id, payload) => {
        const assertion = payload.extensions?.assertion;
        try {
          if (assertion !== undefined) subscriptionScopes.set(payload, verify(assertion));
        } catch (error) {
          return [error as GraphQLError];
        }
        const document = validDocument(payload.query);
        if (!('kind' in document)) return document;
        return { schema, document, variableValues: payload.variables ?? {}, operationName: payload.operationName ?? undefined };
      },
      context: (ctx, _id, payload) => options.context(scopeOf(ctx.extra, payload)),
      subscribe: subscribeSharingEvents(typeDefs),
      onNext: (ctx, _id, payload, _args, result) => {
        if (result.errors) logServerErrors(options.logger, result.errors, scopeOf(ctx.extra, payload).correlationId);
        return maskResult(result);
      },
    },
    // The router's connections ask for grouped results: one live tweet reaches up to a hundred subscriptions on each.
    { logger: options.logger, groupNext: true },
  ).stop;
}
