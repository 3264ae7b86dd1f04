import './no-telemetry.js';

import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from '@apollo/gateway';
import { type FetchNode, type PlanNode, type QueryPlan, QueryPlanner, type SubscriptionNode } from '@apollo/query-planner';
import { type DocumentNode, type ExecutionResult, type FormattedExecutionResult, GraphQLError, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { mapAsyncIterator } from '../../platform/async-iterators.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import { signRequestAssertion } from '../../platform/identity/tokens.js';
import type { Logger } from '../../platform/logging.js';
import { SharedFetches } from './shared-fetches.js';

/** The name under which each received event is replayed into the query plan. */
const REPLAYED_EVENT = '__subscription_event__';

export interface FederatedSubscriptionsOptions {
  supergraphSdl: string;
  /** The same data sources the gateway uses for queries (identity assertions included). */
  dataSources: Record<string, GraphQLDataSource<RequestScope>>;
  /** Each subgraph's graphql-ws endpoint. */
  webSocketUrls: Record<string, string>;
  internalSecret: string;
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

  /** One connection per subgraph for all subscribers (graphql-ws multiplexes), opened on first use. */
  private clientFor(serviceName: string): Client {
    let client = this.clients.get(serviceName);
    if (!client) {
      const url = this.options.webSocketUrls[serviceName];
      if (!url) throw new Error(`no websocket URL for subgraph ${serviceName}`);
      client = createClient({
        url,
        webSocketImpl: WebSocket,
        // The router's own identity; each subscription adds its subscriber's.
        connectionParams: () => ({
          assertion: signRequestAssertion({ viewerId: null, clientAddress: null }, this.options.internalSecret, serviceName),
        }),
        retryAttempts: Number.POSITIVE_INFINITY,
        shouldRetry: () => true,
      });
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
    // The subscriber's identity travels with its own subscribe message on the shared connection.
    const assertion = signRequestAssertion(
      { viewerId: context.viewerId, clientAddress: context.clientAddress },
      this.options.internalSecret,
      primary.serviceName,
    );
    const events = client.iterate<Record<string, unknown>>({
      query: primary.operation,
      variables: primaryVariables,
      extensions: { assertion },
    });
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
