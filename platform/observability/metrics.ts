import client from 'prom-client';

/**
 * Every metric twtr exports, in one registry per process (docs/operations.md, "Metrics"). Label values come from code or from
 * the schema, never straight from a client: operation names, the one label a client chooses, go through
 * `knownLabel`.
 */
export const registry = client.register;

let processMetricsStarted = false;
/** Node's default process metrics (CPU, memory, event-loop lag, GC), once per process. */
export function collectProcessMetrics(): void {
  if (processMetricsStarted) return;
  processMetricsStarted = true;
  client.collectDefaultMetrics({ register: registry });
}

const SECONDS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LONG_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

// Router: client operations and subgraph fetches.
export const routerRequests = new client.Counter({
  name: 'twtr_router_requests_total',
  help: 'GraphQL operations the router answered, by operation name, type and outcome (ok or error).',
  labelNames: ['operation', 'type', 'outcome'],
});
export const routerRequestDuration = new client.Histogram({
  name: 'twtr_router_request_duration_seconds',
  help: 'Time from receiving a GraphQL operation to sending its response, by operation name and type.',
  labelNames: ['operation', 'type'],
  buckets: SECONDS,
});
export const singleFetchAnswers = new client.Counter({
  name: 'twtr_router_single_fetch_answers_total',
  help: 'Queries answered by the single-fetch path (one subgraph fetch, no executor), a subset of the router requests.',
});
export const routerErrors = new client.Counter({
  name: 'twtr_router_errors_total',
  help: 'Errors in router responses, by operation name and extensions.code.',
  labelNames: ['operation', 'code'],
});
export const subgraphFetches = new client.Counter({
  name: 'twtr_router_subgraph_fetches_total',
  help: 'Fetches from the router to a subgraph, by subgraph and outcome (ok, graphql_error, failed).',
  labelNames: ['subgraph', 'outcome'],
});
export const subgraphFetchDuration = new client.Histogram({
  name: 'twtr_router_subgraph_fetch_duration_seconds',
  help: 'Duration of router fetches to a subgraph.',
  labelNames: ['subgraph'],
  buckets: SECONDS,
});

// Subgraphs: root fields (the resolver-level operations) they serve.
export const subgraphOperations = new client.Counter({
  name: 'twtr_subgraph_operations_total',
  help: 'Root fields a subgraph resolved (Query.feed, Mutation.postTweet, Query._entities …), by outcome.',
  labelNames: ['subgraph', 'field', 'outcome'],
});
export const subgraphOperationDuration = new client.Histogram({
  name: 'twtr_subgraph_operation_duration_seconds',
  help: 'Duration of the operation each root field was part of, in the subgraph.',
  labelNames: ['subgraph', 'field'],
  buckets: SECONDS,
});

// Events: publishing (outbox relay, fan-out work items), consuming, dead letters.
export const eventsPublished = new client.Counter({
  name: 'twtr_events_published_total',
  help: 'Events sent to RabbitMQ, by event type (confirmed or not).',
  labelNames: ['type'],
});
export const eventsConfirmed = new client.Counter({
  name: 'twtr_events_confirmed_total',
  help: 'Events RabbitMQ confirmed it stored, by event type.',
  labelNames: ['type'],
});
export const eventsPublishFailed = new client.Counter({
  name: 'twtr_events_publish_failed_total',
  help: 'Events RabbitMQ did not confirm (refused, or not connected); the outbox relay retries them.',
  labelNames: ['type'],
});
export const eventsConsumed = new client.Counter({
  name: 'twtr_events_consumed_total',
  help: 'Events a consumer handled and acknowledged, by queue and event type.',
  labelNames: ['queue', 'type'],
});
export const eventsRetried = new client.Counter({
  name: 'twtr_events_retried_total',
  help: 'Events whose handling failed on their own content and were tried again (in place, so the queue keeps its order), by queue.',
  labelNames: ['queue'],
});
export const eventsDeadLettered = new client.Counter({
  name: 'twtr_events_dead_lettered_total',
  help: 'Events given up on (unreadable, or failed at the delivery limit) and moved to the queue.dead, by queue.',
  labelNames: ['queue'],
});
export const eventHandleDuration = new client.Histogram({
  name: 'twtr_event_handle_duration_seconds',
  help: 'Time a consumer took to handle one event, by queue (including waits for a dependency that was away).',
  labelNames: ['queue'],
  buckets: LONG_SECONDS,
});

// Feed: fan-out, read-time merges, live delivery.
export const fanoutRowsWritten = new client.Counter({
  name: 'twtr_fanout_rows_written_total',
  help: 'Timeline rows the feed wrote (one per timeline a tweet entered).',
});
export const fanoutDuration = new client.Histogram({
  name: 'twtr_fanout_duration_seconds',
  help: 'Time to fan one tweet out (kind "tweet") or apply one fan-out work item (add, remove, announce, backfill).',
  labelNames: ['kind'],
  buckets: LONG_SECONDS,
});
export const readTimeMerges = new client.Counter({
  name: 'twtr_feed_read_time_merges_total',
  help: 'Read-time authors (above the fan-out threshold) merged into home timeline pages as they were read.',
});
export const liveItemsDelivered = new client.Counter({
  name: 'twtr_live_items_delivered_total',
  help: 'Live items handed to subscribers (feed: items queued for its subscriptions; router: frames sent to clients).',
  labelNames: ['service'],
});

/**
 * A gauge read when scraped, from sources that register and unregister as the parts they describe start and stop
 * (several may share a process, as in tests). Each source gives the values of its own label set.
 */
class ObservedGauge<Labels extends string> {
  private readonly sources = new Set<() => Promise<Array<[Partial<Record<Labels, string>>, number]>>>();
  readonly gauge: client.Gauge<Labels>;

  constructor(configuration: { name: string; help: string; labelNames: readonly Labels[] }) {
    const sources = this.sources;
    this.gauge = new client.Gauge<Labels>({
      ...configuration,
      async collect() {
        this.reset();
        const observed = await Promise.all([...sources].map((source) => source().catch(() => [])));
        for (const [labels, value] of observed.flat()) this.set(labels, value);
      },
    });
  }

  /** Adds a source; the returned function removes it. */
  observe(
    source: () => Promise<Array<[Partial<Record<Labels, string>>, number]>> | Array<[Partial<Record<Labels, string>>, number]>,
  ) {
    const wrapped = async () => source();
    this.sources.add(wrapped);
    return () => void this.sources.delete(wrapped);
  }
}

export const liveSubscriptions = new ObservedGauge({
  name: 'twtr_live_subscriptions',
  help: 'Live feed subscriptions open right now (router: client subscriptions; feed: subscriptions it serves).',
  labelNames: ['service'],
});
export const websocketSockets = new ObservedGauge({
  name: 'twtr_websocket_sockets',
  help: 'Client websockets open on the router right now.',
  labelNames: [],
});
export const outboxLag = new ObservedGauge({
  name: 'twtr_outbox_lag_seconds',
  help: 'Age of the oldest event written to the outbox and not yet relayed to RabbitMQ (0 when none), by keyspace.',
  labelNames: ['keyspace'],
});
export const outboxPending = new ObservedGauge({
  name: 'twtr_outbox_pending_events',
  help: 'Events in the outbox not yet relayed (counted up to a cap), by keyspace.',
  labelNames: ['keyspace'],
});
export const queueDepth = new ObservedGauge({
  name: 'twtr_queue_messages',
  help: 'Messages ready in a consumer queue (queue.dead holds dead letters), as RabbitMQ reports them.',
  labelNames: ['queue'],
});
export const queueConsumers = new ObservedGauge({
  name: 'twtr_queue_consumers',
  help: 'Consumers attached to a queue, as RabbitMQ reports them.',
  labelNames: ['queue'],
});

/**
 * A label whose values a client chooses (an operation name): only the `known` values keep series of their own, any
 * other shares "other" and none is "(anonymous)". No client can add a series, however many names it invents; a cap on
 * distinct values instead would let one client's junk fill it before the names that matter arrive.
 */
export function knownLabel(known: Iterable<string>): (value: string | null | undefined) => string {
  const names = new Set(known);
  return (value) => (!value ? '(anonymous)' : names.has(value) ? value : 'other');
}

/** `read`, answered once per `ms` however many gauges ask during one scrape. */
export function sharedFor<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let answer: { at: number; value: Promise<T> } | undefined;
  return () => {
    if (!answer || Date.now() - answer.at >= ms) answer = { at: Date.now(), value: read() };
    return answer.value;
  };
}

/** Seconds since `startedAt` (a process.hrtime.bigint() reading). */
export const secondsSince = (startedAt: bigint) => Number(process.hrtime.bigint() - startedAt) / 1e9;

/** The Prometheus text exposition of this process's registry. */
export async function metricsText(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
