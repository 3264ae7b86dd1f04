import './no-telemetry.js';

import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from '@apollo/gateway';
import { type FetchNode, type PlanNode, type QueryPlan, QueryPlanner, type SubscriptionNode } from '@apollo/query-planner';
import { type DocumentNode, type ExecutionResult, type FormattedExecutionResult, GraphQLError, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { mapAsyncIterator } from '../../platform/async-iterators.js';
import type { AssertedIdentity, RequestScope } from '../../platform/identity/request-scope.js';
import { signRequestAssertion } from '../../platform/identity/tokens.js';
import type { Logger } from '../../platform/logging.js';
import { SharedFetches } from './shared-fetches.js';

/** How often the router pings each subgraph it holds subscriptions on, and how long it waits for the pong. */
const UPSTREAM_PING_INTERVAL_MS = 5_000;
const UPSTREAM_PONG_TIMEOUT_MS = 5_000;

/** The name under which each received event is replayed into the query plan. */
const REPLAYED_EVENT = '__subscription_event__';

export interface FederatedSubscriptionsOptions {
  supergraphSdl: string;
  /** The same data sources the gateway uses for queries (identity assertions included). */
  dataSources: Record<string, GraphQLDataSource<RequestScope>>;
  /** Each subgraph's graphql-ws endpoint. */
  webSocketUrls: Record<string, string>;
  internalSecret: string;
  /** Lifetime of each assertion signed for the subgraph. Defaults to 60 s. */
  assertionTtlSeconds?: number;
  logger: Logger;
  /** How long viewer-independent entity fetches are shared between subscribers (0: never). Defaults to 1 s. */
  sharedFetchTtlMs?: number;
}

/**
 * Federated subscriptions, which @apollo/gateway plans but does not execute. For each client subscription:
 * plan it once, open the primary subscription on the owning subgraph over graphql-ws (one connection per subgraph,
 * each subscription carrying its viewer's signed assertion), and for every event run the rest of the plan (entity
 * fetches to the other subgraphs, batched per subgraph by the planner) with the gateway's own executor, the event
 * standing in for the primary fetch's answer.
 * Fetches that do not depend on the viewer are shared between the subscribers of one event (shared-fetches.ts).
 */
export class FederatedSubscriptions {
  private readonly apiSchema;
  private readonly apiSchemaForExecution;
  private readonly supergraphSchema;
  private readonly planner: QueryPlanner;
  /** Entity fetches made once for all subscribers of an event where the viewer does not matter. */
  private readonly dataSources: Record<string, GraphQLDataSource>;
  private readonly clients = new Map<string, Client>();

  constructor(private readonly options: FederatedSubscriptionsOptions) {
    const shared = new SharedFetches(options.supergraphSdl, { ttlMs: options.sharedFetchTtlMs });
    this.dataSources = Object.fromEntries(
      Object.entries(options.dataSources).map(([name, dataSource]) => [name, shared.wrap(name, dataSource)]),
    );
    const supergraph = Supergraph.build(options.supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.apiSchemaForExecution = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
  }

  /** An assertion of this identity for this subgraph, signed now. */
  private assertionFor(identity: AssertedIdentity, serviceName: string): string {
    return signRequestAssertion(identity, this.options.internalSecret, serviceName, this.options.assertionTtlSeconds);
  }

  /**
   * One connection per subgraph for all subscribers (graphql-ws multiplexes), opened on first use. It reconnects
   * without end, resubscribing every live subscription; a connection that stops answering pings (a half-open link to
   * a replica that died) is terminated within seconds, so that happens soon rather than never.
   */
  private clientFor(serviceName: string): Client {
    let client = this.clients.get(serviceName);
    if (!client) {
      const url = this.options.webSocketUrls[serviceName];
      if (!url) throw new Error(`no websocket URL for subgraph ${serviceName}`);
      let pongDeadline: NodeJS.Timeout | undefined;
      const created: Client = createClient({
        url,
        webSocketImpl: WebSocket,
        // The router's own identity, signed afresh on every (re)connect; each subscription adds its subscriber's.
        connectionParams: () => ({ assertion: this.assertionFor({ viewerId: null, clientAddress: null }, serviceName) }),
        retryAttempts: Number.POSITIVE_INFINITY,
        shouldRetry: () => true,
        keepAlive: UPSTREAM_PING_INTERVAL_MS,
        on: {
          ping: (received) => {
            if (received) return;
            clearTimeout(pongDeadline);
            pongDeadline = setTimeout(() => {
              this.options.logger.warn('a subgraph stopped answering pings; reconnecting', { subgraph: serviceName });
              created.terminate();
            }, UPSTREAM_PONG_TIMEOUT_MS);
          },
          pong: (received) => {
            if (received) clearTimeout(pongDeadline);
          },
          closed: () => clearTimeout(pongDeadline),
        },
      });
      client = created;
      this.clients.set(serviceName, client);
    }
    return client;
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((client) => client.dispose()));
    this.clients.clear();
  }

  subscribe(
    document: DocumentNode,
    variables: Record<string, unknown>,
    operationName: string | undefined,
    context: RequestScope,
  ): AsyncIterableIterator<ExecutionResult> {
    const plan = this.planner.buildQueryPlan(operationFromDocument(this.apiSchema, document, { operationName }));
    const node = plan.node as SubscriptionNode | undefined;
    if (node?.kind !== 'Subscription') throw new GraphQLError('Not a subscription.', { extensions: { code: 'BAD_REQUEST' } });
    const { primary, rest } = node;

    const client = this.clientFor(primary.serviceName);
    const primaryVariables = Object.fromEntries(
      (primary.variableUsages ?? []).filter((name) => name in variables).map((name) => [name, variables[name]]),
    );
    // The subscriber's identity travels with its own subscribe message on the shared connection. graphql-ws sends the
    // same payload again when it resubscribes after a reconnect, so the assertion is a getter: signed afresh each time
    // the message is written, never a stale one.
    const identity = { viewerId: context.viewerId, clientAddress: context.clientAddress };
    const extensions = Object.defineProperty({}, 'assertion', {
      enumerable: true,
      get: () => this.assertionFor(identity, primary.serviceName),
    });
    const events = client.iterate<Record<string, unknown>>({ query: primary.operation, variables: primaryVariables, extensions });
    const source = print(document);
    const operationContext = buildOperationContext({
      schema: this.apiSchemaForExecution,
      operationDocument: document,
      operationName,
    });

    const resolveEvent = async (event: FormattedExecutionResult<Record<string, unknown>, unknown>): Promise<ExecutionResult> => {
      if (event.errors?.length || !event.data)
        return { data: null, errors: event.errors?.map((error) => relabel(error, primary.serviceName)) };
      const replay: FetchNode = { ...primary, serviceName: REPLAYED_EVENT };
      const queryPlan: QueryPlan = {
        kind: 'QueryPlan',
        node: rest ? { kind: 'Sequence', nodes: [replay, rest as PlanNode] } : replay,
      };
      // The gateway merges into the event object it is given: every execution gets its own copy.
      const eventData = structuredClone(event.data);
      const serviceMap = {
        ...this.dataSources,
        [REPLAYED_EVENT]: { process: async () => ({ data: eventData }) } as GraphQLDataSource,
      };
      const requestContext = {
        request: { query: source, variables, operationName },
        context,
        metrics: {},
        logger: this.options.logger as never,
      };
      const result = await executeQueryPlan(
        queryPlan,
        serviceMap,
        requestContext as never,
        operationContext,
        this.supergraphSchema,
        this.apiSchema,
      );
      return { data: result.data ?? null, ...(result.errors?.length ? { errors: result.errors } : {}) };
    };

    return mapAsyncIterator(events, resolveEvent);
  }
}

/** Errors from the replayed fetch name the subgraph that really produced them. */
function relabel(error: { message: string; extensions?: Record<string, unknown> }, serviceName: string) {
  return new GraphQLError(error.message, { extensions: { ...error.extensions, serviceName } });
}
