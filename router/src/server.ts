import './no-telemetry.js';

import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { ApolloGateway } from '@apollo/gateway';
import type { QueryPlan } from '@apollo/query-planner';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled, ApolloServerPluginUsageReportingDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError, print } from 'graphql';

import type { Config } from '../../platform/config.js';
import { documentStore } from '../../platform/http/document-store.js';
import { errorLogging, maskUnexpectedErrors, serviceUnavailableStatus } from '../../platform/http/masking.js';
import { answersWithin, startOperatorServer } from '../../platform/http/probes.js';
import { MAX_BODY, refuseUnreadableBodies } from '../../platform/http/responses.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import { correlateRequests, correlationIdOf } from '../../platform/identity/request-scope.js';
import type { Logger } from '../../platform/logging.js';
import { traceHttpRequests } from '../../platform/observability/tracing.js';
import type { RunningServer } from '../../platform/runtime.js';
import { createDataSources, createGateway, readSupergraphSdl, sharingInFlight, subgraphUrls } from './gateway.js';
import { graphqlLane } from './graphql-lane.js';
import { HttpLimits, VERIFIED_VIEWER } from './http-limits.js';
import {
  declaredVariables,
  type OperationLimitCheck,
  type OperationLimits,
  refuseRepetitiveOperations,
  rememberedOperationLimits,
} from './operation-limits.js';
import { operationMetrics } from './operation-metrics.js';
import { QueryPlanning } from './query-planning.js';
import { prefetchedOf, reusingPrefetched, SingleFetchQueries } from './single-fetch.js';
import { type AnswerBudget, answerBudget, answerTooLarge } from './subgraph-http.js';
import { FederatedSubscriptions } from './subscriptions.js';
import { clientAddressOf, viewerFromHeaders } from './viewer.js';
import { serveWebSockets } from './websocket.js';

/** The gateway cannot run subscriptions sent over HTTP; say where they are served instead of failing inside it. */
const subscriptionsOnlyOverWebSockets: ApolloServerPlugin<RequestScope> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation === 'subscription') {
          throw new GraphQLError('Subscriptions are served over graphql-ws (ws://…/graphql), not HTTP POST.', {
            extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
          });
        }
      },
    };
  },
};

/** Operations across every subgraph that each planning thread plans first, so that it starts warm. */
const PLANNER_WARM_UP = [
  '{ feed(first: 2) { edges { node { id text author { username followerCount tweets(first: 1) { edges { node { id } } } } } } } }',
  '{ me { id following(first: 2) { edges { node { username viewerIsFollowing } } } } }',
  'subscription { feedItemAdded { id text author { username displayName } } }',
];

/**
 * An answer whose subgraph fetches went over the request's budget is refused whole (subgraph-http.ts): whatever the
 * gateway merged before the fetch that went over is not sent.
 */
const refuseOversizedAnswers: ApolloServerPlugin<RequestScope & { answerBudget?: AnswerBudget }> = {
  async requestDidStart() {
    return {
      async willSendResponse({ contextValue, response }) {
        const budget = contextValue.answerBudget;
        if (!budget?.exceeded || response.body.kind !== 'single') return;
        const { message, extensions } = answerTooLarge(budget);
        response.body.singleResult = { data: null, errors: [{ message, extensions }] };
      },
    };
  },
};

/** The gateway's cache of plans (private in its types), keyed as its executor keys them. */
interface PlanStore {
  get(key: string): Promise<QueryPlan | undefined>;
  set(key: string, plan: QueryPlan): Promise<void>;
}

/**
 * Admits an operation once it is validated: refuses it when it is over the configured limits, then plans it off the
 * main thread (query-planning.ts) unless the gateway already holds its plan, so the gateway never plans on the
 * router's only thread. One hook, because Apollo runs every plugin's didResolveOperation side by side and nothing may
 * be planned before its limits pass.
 */
function admitOperations(
  limitError: OperationLimitCheck,
  planning: QueryPlanning,
  plans: GatewayPlans,
): ApolloServerPlugin<RequestScope> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, operationName, queryHash, operation, contextValue }) {
          // Several operations and no name, or a name none has: the gateway would fail on it as an internal error.
          if (!operation)
            throw new GraphQLError('Name the operation to run: the document has several, or none by that name.', {
              extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
            });
          // Bounded (depth, count) before anything walks or serialises what the client sent; only declared ones kept.
          const variables = declaredVariables(schema, operation, request.variables);
          if (!('coerced' in variables)) {
            const [refusal] = variables.errors;
            throw new GraphQLError(refusal.message, { extensions: { ...refusal.extensions, http: { status: 400 } } });
          }
          const error = limitError(schema, document, queryHash, variables.coerced, operationName ?? undefined);
          if (error) throw error;
          if (operation.operation === 'subscription') return;
          if (await plans.get(queryHash, request.operationName ?? undefined)) return;
          const source = request.query ?? print(document);
          await plans.set(
            queryHash,
            request.operationName ?? undefined,
            await planning.plan(source, request.operationName ?? undefined, contextValue.clientAddress ?? undefined),
          );
        },
      };
    },
  };
}

/** The gateway's cache of plans, by query hash and operation name (its executor plans whatever it does not find). */
interface GatewayPlans {
  get(queryHash: string, operationName: string | undefined): Promise<QueryPlan | undefined>;
  set(queryHash: string, operationName: string | undefined, plan: QueryPlan): Promise<void>;
}

function gatewayPlans(gateway: ApolloGateway): GatewayPlans {
  const store = (gateway as unknown as { queryPlanStore: PlanStore }).queryPlanStore;
  // The gateway's own key for the plan of this text and operation name.
  const keyOf = (queryHash: string, operationName: string | undefined) =>
    operationName ? createHash('sha256').update(queryHash).update(operationName).digest('hex') : queryHash;
  return {
    get: (queryHash, operationName) => store.get(keyOf(queryHash, operationName)),
    set: (queryHash, operationName, plan) => store.set(keyOf(queryHash, operationName), plan),
  };
}

export const operationLimitsOf = (config: Config): OperationLimits => ({
  maxTokens: config.ROUTER_MAX_TOKENS,
  maxDepth: config.ROUTER_MAX_DEPTH,
  maxAliases: config.ROUTER_MAX_ALIASES,
  maxDirectives: config.ROUTER_MAX_DIRECTIVES,
  maxCost: config.ROUTER_MAX_COST,
});

/**
 * The public endpoint: the supergraph on /graphql (Apollo Sandbox in a browser), and nothing else; /healthz, /readyz
 * and /metrics are on the operator port (`operatorUrl`).
 */
export async function startRouter(
  config: Config,
  logger: Logger,
  port = config.ROUTER_PORT,
): Promise<RunningServer & { operatorUrl: string }> {
  const app = express();
  // Express hashes every answer for an ETag by default; no client revalidates a POST, and it was 2% of the CPU of
  // a one-subgraph query.
  app.set('etag', false);
  // What graphql-lane.ts hands on once its steps are done: Apollo Server alone. Neither names itself: the lane's own
  // answers do not, and one endpoint answers alike whichever way a request went.
  const rest = express();
  rest.set('etag', false);
  app.disable('x-powered-by');
  rest.disable('x-powered-by');
  // Timeouts are checked every second, not Node's default 30 s, so a stalled body is dropped close to its deadline.
  // Requests are taken once the steps exist, below (graphqlLane); nothing arrives before listen().
  const httpServer = createServer({ connectionsCheckingInterval: 1_000 });
  const httpLimits = new HttpLimits({
    maxRequestsPerClient: config.ROUTER_MAX_REQUESTS_PER_CLIENT,
    maxRequestsPerViewer: config.ROUTER_MAX_REQUESTS_PER_VIEWER,
    maxConnections: config.ROUTER_MAX_CONNECTIONS,
    maxConnectionsPerClient: config.ROUTER_MAX_CONNECTIONS_PER_CLIENT,
    headersTimeoutMs: config.ROUTER_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.ROUTER_REQUEST_TIMEOUT_MS,
    trustedProxyHops: config.ROUTER_TRUST_PROXY,
    exemptLoopback: config.RATE_LIMIT_EXEMPT_LOOPBACK,
    jwtSecret: config.JWT_SECRET,
  });
  httpLimits.apply(httpServer);
  const supergraphSdl = readSupergraphSdl();
  const dataSources = createDataSources(config);
  const fetchers = Object.fromEntries(
    Object.entries(sharingInFlight(dataSources, supergraphSdl)).map(([name, fetcher]) => [
      name,
      reusingPrefetched(name, fetcher),
    ]),
  );
  const limits = operationLimitsOf(config);
  const limitError = rememberedOperationLimits(limits);
  const planning = new QueryPlanning({
    supergraphSdl,
    deadlineMs: config.ROUTER_MAX_PLANNING_MS,
    warmUp: PLANNER_WARM_UP,
    logger,
  });
  const gateway = createGateway(fetchers, supergraphSdl);
  const plans = gatewayPlans(gateway);
  /**
   * The scope of an HTTP request: its viewer (verified once, by the admitting middleware, when it could be; a bad token
   * is refused here), address, correlation id and answer budget, and what the single-fetch path fetched for it before
   * leaving it to the full pipeline (that answer, and the budget it was charged to, are used rather than asked again).
   */
  const scopeOf = (req: express.Request, res: express.Response) => {
    const prefetched = prefetchedOf(res);
    return {
      viewerId:
        VERIFIED_VIEWER in res.locals
          ? (res.locals[VERIFIED_VIEWER] as string | null)
          : viewerFromHeaders(req.headers, config.JWT_SECRET),
      clientAddress: clientAddressOf(req, config.ROUTER_TRUST_PROXY),
      correlationId: correlationIdOf(res),
      answerBudget: prefetched?.answerBudget ?? answerBudget(config.ROUTER_MAX_RESPONSE_BYTES),
      prefetched,
    };
  };
  const singleFetches = new SingleFetchQueries({ dataSources: fetchers, limitError, scopeOf });
  const server = new ApolloServer<RequestScope>({
    gateway,
    formatError: maskUnexpectedErrors,
    // Off in production unless asked for (ROUTER_INTROSPECTION, ROUTER_LANDING_PAGE).
    introspection: config.ROUTER_INTROSPECTION,
    parseOptions: { maxTokens: limits.maxTokens },
    documentStore: documentStore(),
    includeStacktraceInErrorResponses: false,
    // The process's own signal handling (runUntilSignalled) stops everything in order.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      ApolloServerPluginUsageReportingDisabled(),
      subscriptionsOnlyOverWebSockets,
      serviceUnavailableStatus,
      errorLogging(logger),
      admitOperations(limitError, planning, plans),
      singleFetches.learn(plans.get),
      operationMetrics(),
      refuseOversizedAnswers,
      config.ROUTER_LANDING_PAGE
        ? // Apollo Sandbox, pointed at this endpoint; it opens subscriptions with graphql-ws on the same URL.
          ApolloServerPluginLandingPageLocalDefault({
            embed: { endpointIsEditable: false, runTelemetry: false },
            includeCookies: false,
          })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await server.start();
  const subscriptions = new FederatedSubscriptions({
    supergraphSdl,
    dataSources,
    planning,
    webSocketUrls: Object.fromEntries(
      Object.entries(subgraphUrls(config)).map(([name, url]) => [name, url.replace(/^http/, 'ws')]),
    ),
    internalSecret: config.INTERNAL_IDENTITY_SECRET,
    assertionTtlSeconds: config.ROUTER_ASSERTION_TTL_SECONDS,
    logger,
    sharedFetchTtlMs: config.ROUTER_SHARED_FETCH_TTL_MS,
  });
  const stopWebSockets = serveWebSockets({
    httpServer,
    apollo: server,
    subscriptions,
    supergraphSdl,
    jwtSecret: config.JWT_SECRET,
    trustedProxyHops: config.ROUTER_TRUST_PROXY,
    limits,
    maxResponseBytes: config.ROUTER_MAX_RESPONSE_BYTES,
    maxUnsentBytes: config.ROUTER_WS_MAX_UNSENT_BYTES,
    sockets: {
      maxSockets: config.ROUTER_WS_MAX_SOCKETS,
      maxSocketsPerClient: config.ROUTER_WS_MAX_SOCKETS_PER_CLIENT,
      maxSubscriptionsPerSocket: config.ROUTER_WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxOperationsPerSocket: config.ROUTER_WS_MAX_OPERATIONS_PER_SOCKET,
      maxSubscriptionsPerViewer: config.ROUTER_WS_MAX_SUBSCRIPTIONS_PER_VIEWER,
      exemptLoopback: config.RATE_LIMIT_EXEMPT_LOOPBACK,
    },
    logger,
  });

  // The router is ready when every subgraph is.
  const unavailableSubgraphs = async () => {
    const ready = await Promise.all(
      Object.entries(subgraphUrls(config)).map(async ([name, url]) => {
        const answered = await answersWithin(async () => {
          const response = await fetch(url.replace(/\/graphql$/, '/readyz'));
          if (!response.ok) throw new Error(`${name} is not ready`);
        }, 2_000);
        return answered ? [] : [name];
      }),
    );
    return ready.flat();
  };
  const apollo = expressMiddleware(server, { context: async ({ req, res }) => scopeOf(req, res) });
  // What follows admission and the body's reading, on either path (the lane admits and reads bodies itself).
  const steps = [
    correlateRequests,
    traceHttpRequests('router'),
    refuseRepetitiveOperations(limits.maxTokens),
    singleFetches.answer,
  ];
  app.use('/graphql', httpLimits.admit, express.json({ limit: MAX_BODY }), ...steps, apollo);
  app.use(refuseUnreadableBodies);
  rest.use(apollo, refuseUnreadableBodies);
  httpServer.on('request', graphqlLane({ admit: httpLimits.admit, steps, rest, other: app }));

  await new Promise<void>((resolve) => httpServer.listen(port, config.ROUTER_BIND_ADDRESS, resolve));
  const { port: boundPort } = httpServer.address() as AddressInfo;
  const url = `http://localhost:${boundPort}/graphql`;
  // Apart from the public port: each /readyz calls every subgraph, and metrics are for operators.
  const operator = await startOperatorServer({
    port: config.ROUTER_OPERATOR_PORT,
    bindAddress: config.ROUTER_OPERATOR_BIND_ADDRESS,
    unavailableDependencies: unavailableSubgraphs,
  });
  logger.info('router listening', { url, operatorUrl: operator.url });
  return {
    url,
    operatorUrl: operator.url,
    stop: async () => {
      await stopWebSockets();
      subscriptions.close();
      await server.stop();
      await planning.close();
      await operator.stop();
    },
  };
}
