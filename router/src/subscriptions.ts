import './no-telemetry.js';

import { Supergraph } from '@apollo/federation-internals';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource } from '@apollo/gateway';
import type { FetchNode, PlanNode, QueryPlan, SubscriptionNode } from '@apollo/query-planner';
import { type DocumentNode, type ExecutionResult, type FormattedExecutionResult, GraphQLError, print } from 'graphql';

import { mapAsyncIterator } from '../../platform/async-iterators.js';
import { ErrorCode } from '../../platform/errors.js';
import type { AssertedIdentity, RequestScope } from '../../platform/identity/request-scope.js';
import { signRequestAssertion } from '../../platform/identity/tokens.js';
import { type TextKeyedAnswers, textKeyedAnswers, textKeyedCache } from '../../platform/limits/text-keyed-cache.js';
import type { Logger } from '../../platform/logging.js';
import type { QueryPlanning } from './query-planning.js';
import { heldEvents, resubscribing } from './resubscribing.js';
import { SharedFetches } from './shared-fetches.js';
import { SubgraphConnection } from './subgraph-connection.js';
import { answerBytes } from './subgraph-http.js';

/** How often the router pings each subgraph it holds subscriptions on, and how long it waits for the pong. */
const UPSTREAM_PING_INTERVAL_MS = 5_000;
const UPSTREAM_PONG_TIMEOUT_MS = 5_000;

/** The largest message accepted from a subgraph's websocket (an event is its primary fetch's answer). */
const MAX_UPSTREAM_MESSAGE_BYTES = 4 << 20;

/** The most a subscribe message forwarded to a subgraph may carry (operation and variables), a 16th of its limit. */
const MAX_FORWARDED_CHARACTERS = 64 << 10;

/** Subscriptions sharing one connection to a subgraph. */
const SUBSCRIPTIONS_PER_CONNECTION = 100;

/** The name under which each received event is replayed into the query plan. */
const REPLAYED_EVENT = '__subscription_event__';

export interface FederatedSubscriptionsOptions {
  supergraphSdl: string;
  /** The planner the gateway's operations use too (off the main thread, with a deadline). */
  planning: QueryPlanning;
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
 * plan it once, open the primary subscription on the owning subgraph over graphql-ws (connections shared by up to
 * a hundred subscriptions, each carrying its viewer's signed assertion), and for every event run the rest of the plan (entity
 * fetches to the other subgraphs, batched per subgraph by the planner) with the gateway's own executor, the event
 * standing in for the primary fetch's answer.
 * Fetches that do not depend on the viewer are shared between the subscribers of one event (shared-fetches.ts), and
 * when no field of the operation does, so is the whole resolved event.
 */
export class FederatedSubscriptions {
  private readonly apiSchema;
  private readonly apiSchemaForExecution;
  private readonly supergraphSchema;
  /** Entity fetches made once for all subscribers of an event where the viewer does not matter. */
  private readonly dataSources: Record<string, GraphQLDataSource>;
  private readonly shared: SharedFetches;
  /**
   * Whole events resolved once for every subscriber with the same operation and the same event, when nothing in the
   * operation depends on the viewer: a tweet reaching a thousand subscribers runs the rest of the plan once, not a
   * thousand times. Keyed by operation and event (bounded, and each entry lives only `sharedFetchTtlMs`), and weighed
   * by what the rest of the plan fetched for it too: a client's selection may make each event far bigger than its key.
   */
  private readonly resolvedEvents: TextKeyedAnswers<{ result: ExecutionResult; fetchedBytes: number }> | undefined;
  /** Per subgraph, its connections (never more than the router's subscription limit allows, over 100). */
  private readonly connections = new Map<string, { connection: SubgraphConnection; subscriptions: number }[]>();
  private closed = false;
  /** Keyed by operation text, which clients choose: bounded (an entry evicted only costs planning again). */
  private readonly plans = textKeyedCache<{
    plan: QueryPlan;
    operationContext: ReturnType<typeof buildOperationContext>;
    /** Where a resolved event's key begins (the operation's name and text). */
    eventKeyPrefix: string;
  }>({
    maxEntries: 1_000,
    maxCharacters: 16 << 20,
    // The plan's fetches carry operations of their own; the document and its context are the shared parsed one.
    valueSize: ({ plan }) => JSON.stringify(plan).length,
  });

  constructor(private readonly options: FederatedSubscriptionsOptions) {
    const ttlMs = options.sharedFetchTtlMs ?? 1_000;
    this.shared = new SharedFetches(options.supergraphSdl, { ttlMs });
    this.dataSources = Object.fromEntries(
      Object.entries(options.dataSources).map(([name, dataSource]) => [name, this.shared.wrap(name, dataSource)]),
    );
    this.resolvedEvents =
      ttlMs > 0
        ? textKeyedAnswers({ maxEntries: 10_000, maxCharacters: 16 << 20, ttlMs, valueSize: ({ fetchedBytes }) => fetchedBytes })
        : undefined;
    const supergraph = Supergraph.build(options.supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.apiSchemaForExecution = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
  }

  /** An assertion of this identity for this subgraph, signed now. */
  private readonly sign = (identity: AssertedIdentity, serviceName: string): string =>
    signRequestAssertion(identity, this.options.internalSecret, serviceName, this.options.assertionTtlSeconds);

  /**
   * Connections to a subgraph are shared by up to SUBSCRIPTIONS_PER_CONNECTION subscribers each, opened on first use:
   * a close that ends a connection's subscriptions (the subgraph's 4500, say) makes every one of them subscribe again
   * at once, and a connection's events are one socket's work on each side. Each reconnects by itself, sending its
   * live subscriptions again; one that stops answering pings (a half-open link to a replica that died) is terminated
   * within seconds, so that happens soon rather than never. Returns the connection and how to give the place back
   * when the subscription ends. After close(), a disposed connection: whatever subscribes on it is completed.
   */
  private connectionFor(serviceName: string): { connection: SubgraphConnection; release: () => void } {
    if (this.closed) {
      const disposed = this.connect(serviceName);
      disposed.dispose();
      return { connection: disposed, release: () => {} };
    }
    let pool = this.connections.get(serviceName);
    if (!pool) this.connections.set(serviceName, (pool = []));
    let taken = pool.find((candidate) => candidate.subscriptions < SUBSCRIPTIONS_PER_CONNECTION);
    if (!taken) pool.push((taken = { connection: this.connect(serviceName), subscriptions: 0 }));
    const place = taken;
    place.subscriptions++;
    return { connection: place.connection, release: () => void place.subscriptions-- };
  }

  private connect(serviceName: string): SubgraphConnection {
    const url = this.options.webSocketUrls[serviceName];
    if (!url) throw new Error(`no websocket URL for subgraph ${serviceName}`);
    return new SubgraphConnection({
      url,
      // The router's own identity, signed afresh on every (re)connect; each subscription adds its subscriber's.
      connectionParams: () => ({ assertion: this.sign({ viewerId: null, clientAddress: null }, serviceName) }),
      pingIntervalMs: UPSTREAM_PING_INTERVAL_MS,
      pongTimeoutMs: UPSTREAM_PONG_TIMEOUT_MS,
      maxMessageBytes: MAX_UPSTREAM_MESSAGE_BYTES,
      logger: this.options.logger,
      subgraph: serviceName,
    });
  }

  close(): void {
    this.closed = true;
    for (const { connection } of [...this.connections.values()].flat()) connection.dispose();
    this.connections.clear();
  }

  /**
   * The plan and execution context of an operation, made once for every subscriber sending the same text: thousands of
   * subscribers of one feed subscription hold one plan, not one each.
   */
  private async planFor(source: string, document: DocumentNode, operationName: string | undefined, client: string | undefined) {
    const key = `${operationName ?? ''}\n${source}`;
    let planned = this.plans.get(key);
    if (!planned) {
      planned = {
        plan: await this.options.planning.plan(source, operationName, client),
        operationContext: buildOperationContext({
          schema: this.apiSchemaForExecution,
          operationDocument: document,
          operationName,
        }),
        eventKeyPrefix: `${key}\n`,
      };
      this.plans.set(key, planned);
    }
    return planned;
  }

  async subscribe(
    document: DocumentNode,
    variables: Record<string, unknown>,
    operationName: string | undefined,
    context: RequestScope,
  ): Promise<AsyncIterableIterator<ExecutionResult>> {
    const source = document.loc?.source.body ?? print(document);
    const planned = await this.planFor(source, document, operationName, context.clientAddress ?? undefined);
    const { plan, operationContext } = planned;
    const node = plan.node as SubscriptionNode | undefined;
    if (node?.kind !== 'Subscription') throw new GraphQLError('Not a subscription.', { extensions: { code: 'BAD_REQUEST' } });
    const { primary, rest } = node;

    const primaryVariables = Object.fromEntries(
      (primary.variableUsages ?? []).filter((name) => name in variables).map((name) => [name, variables[name]]),
    );
    // Everyone's subscriptions share the connection this message travels on: one the subgraph would refuse (its own
    // message limit is 1 MiB, as the router's) would close it under all of them. Bounded far below that here.
    const forwardedCharacters = primary.operation.length + JSON.stringify(primaryVariables).length;
    if (forwardedCharacters > MAX_FORWARDED_CHARACTERS)
      throw new GraphQLError(
        `The subscription is too large to forward (${forwardedCharacters} characters of operation and variables, at most ${MAX_FORWARDED_CHARACTERS}).`,
        { extensions: { code: ErrorCode.BAD_REQUEST } },
      );
    // The subscriber's identity travels with its own subscribe message on the shared connection (as JSON: toJSON).
    const extensions = new AssertionExtensions(this.sign, context, primary.serviceName) as unknown as Record<string, unknown>;
    const events = resubscribing(() => {
      const { connection, release } = this.connectionFor(primary.serviceName);
      const upstream = heldEvents<FormattedExecutionResult<Record<string, unknown>>>(connection, {
        query: primary.operation,
        variables: primaryVariables,
        extensions,
      });
      return { events: upstream, release };
    });

    /** The event through the rest of the plan; the bytes of the answers fetched for it are added to `fetched`, if given. */
    const resolveEvent = async (
      event: FormattedExecutionResult<Record<string, unknown>, unknown>,
      fetched?: { bytes: number },
    ): Promise<ExecutionResult> => {
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
        ...(fetched ? counting(this.dataSources, fetched) : this.dataSources),
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

    const resolvedEvents = this.resolvedEvents;
    if (!resolvedEvents || this.shared.selectsViewerDependentField(source)) return mapAsyncIterator(events, resolveEvent);
    // Most subscriptions have no variables: their key is their plan's, not a string of their own.
    const operationKey =
      Object.keys(variables).length === 0 ? planned.eventKeyPrefix : `${planned.eventKeyPrefix}${JSON.stringify(variables)}\n`;
    return mapAsyncIterator(events, async (event) => {
      const key = operationKey + JSON.stringify(event);
      let resolved = resolvedEvents.get(key);
      if (!resolved) {
        const fetched = { bytes: 0 };
        resolved = resolveEvent(event, fetched).then((result) => ({ result, fetchedBytes: fetched.bytes }));
        resolvedEvents.set(key, resolved);
      }
      // Shared as it is: nothing downstream changes a result (masking copies one that has errors).
      return (await resolved).result;
    });
  }
}

/**
 * A subscribe message's extensions: its subscriber's assertion, signed each time the message is serialised. The
 * connection sends the same payload again when it resubscribes after a reconnect, so it must never carry a stale one.
 * A class with toJSON rather than an object with a getter: a defined accessor put each of a router's thousands of
 * payloads in dictionary mode, with a closure of its own.
 */
class AssertionExtensions {
  // Private (#) so that nothing but toJSON shows them: a spread or a log of the payload carries no viewer or address.
  readonly #sign: (identity: AssertedIdentity, serviceName: string) => string;
  readonly #identity: AssertedIdentity;
  readonly #serviceName: string;

  constructor(
    sign: (identity: AssertedIdentity, serviceName: string) => string,
    identity: AssertedIdentity,
    serviceName: string,
  ) {
    this.#sign = sign;
    this.#identity = identity;
    this.#serviceName = serviceName;
  }

  toJSON(): { assertion: string } {
    return { assertion: this.#sign(this.#identity, this.#serviceName) };
  }
}

/** The data sources, each adding the bytes of its answers (as read from the subgraph) to `fetched.bytes`. */
function counting(dataSources: Record<string, GraphQLDataSource>, fetched: { bytes: number }): Record<string, GraphQLDataSource> {
  return Object.fromEntries(
    Object.entries(dataSources).map(([name, dataSource]) => [
      name,
      {
        process: async (options) => {
          const response = await dataSource.process(options);
          fetched.bytes += answerBytes(response);
          return response;
        },
      } satisfies GraphQLDataSource,
    ]),
  );
}

/** Errors from the replayed fetch name the subgraph that really produced them. */
function relabel(error: { message: string; extensions?: Record<string, unknown> }, serviceName: string) {
  return new GraphQLError(error.message, { extensions: { ...error.extensions, serviceName } });
}
