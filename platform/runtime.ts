import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';

import { type CassandraClient, connectCassandra } from './cassandra/client.js';
import { type Config, loadConfig } from './config.js';
import { answersWithin } from './http/probes.js';
import { startSubgraphServer } from './http/subgraph-server.js';
import { MintedIds } from './identity/minted-ids.js';
import type { RequestScope } from './identity/request-scope.js';
import { RateLimiter, RateLimits } from './limits/rate-limiter.js';
import { createLogger, type Logger } from './logging.js';
import { keyspaceOf, portVariable, type SubgraphName, subgraphNamed } from './manifest.js';
import { connectEventBus, type EventBus } from './messaging/bus.js';
import { Outbox, outboxBacklog, OutboxRelay } from './messaging/outbox.js';
import { outboxLag, outboxPending, sharedFor } from './observability/metrics.js';
import { startTracing } from './observability/tracing.js';

/** A server this process runs, and how to stop it. */
export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** What a subgraph is given: its own keyspace, the bus, its outbox, config and a logger. */
export interface Infrastructure {
  cassandra: CassandraClient;
  bus: EventBus;
  /** Records domain writes with their events (publishing subgraphs only; their keyspace has the outbox tables). */
  outbox: Outbox;
  /** Per-viewer and per-client limits, counted in the subgraph's own keyspace (table rate_limit_hits). */
  rateLimits: RateLimits;
  /** Mints and recognises the ids of users and tweets, which other subgraphs copy (platform/identity/minted-ids.ts). */
  ids: MintedIds;
  config: Config;
  logger: Logger;
}

/** What each subgraph's src/server.ts exports as `subgraph`; the rest of its description is in the manifest. */
export interface SubgraphDefinition<TContext> {
  /** Its entry in the manifest (platform/manifest.ts); also the name of its keyspace. */
  name: SubgraphName;
  schemaFile: URL;
  /** Wires repositories and services (and starts event consumers); returns what the server needs. */
  setup(infra: Infrastructure): Promise<{
    resolvers: object;
    context: (scope: RequestScope) => TContext;
    /** Extra fields for GET /health. */
    health?: () => Record<string, unknown>;
    /** Stops what setup started beyond the bus and Cassandra (which the runtime closes itself). */
    stop?: () => void;
  }>;
}

/**
 * Connects a subgraph to Cassandra and RabbitMQ and serves it on its configured port (or `options.port`; 0 picks a
 * free one); stop() closes all of it.
 */
export async function startSubgraph<TContext extends object>(
  definition: SubgraphDefinition<TContext>,
  options: { config: Config; logger: Logger; port?: number },
): Promise<RunningServer> {
  const { config } = options;
  const logger = options.logger.child({ subgraph: definition.name });
  const cassandra = await connectCassandra(config, keyspaceOf(definition.name, config.TWTR_NAMESPACE));
  const bus = await connectEventBus(config, logger);
  const relay = subgraphNamed(definition.name).publishesEvents ? new OutboxRelay(cassandra, bus, logger) : undefined;
  const outbox = new Outbox(cassandra, relay?.nudge);
  const unobserveOutbox = relay ? observeOutbox(keyspaceOf(definition.name, config.TWTR_NAMESPACE), cassandra) : () => {};
  try {
    relay?.start();
    const rateLimits = new RateLimits(new RateLimiter(cassandra), config);
    const { resolvers, context, health, stop } = await definition.setup({
      cassandra,
      bus,
      outbox,
      rateLimits,
      ids: new MintedIds(config.INTERNAL_IDENTITY_SECRET),
      config,
      logger,
    });
    const server = await startSubgraphServer(
      {
        name: definition.name,
        schemaFile: definition.schemaFile,
        resolvers: resolvers as GraphQLResolverMap<TContext>,
        context,
        health,
        unavailableDependencies: async () => {
          const cassandraAnswers = await answersWithin(
            () => cassandra.execute('SELECT release_version FROM system.local'),
            2_000,
          );
          return [...(cassandraAnswers ? [] : ['cassandra']), ...(bus.connected() ? [] : ['rabbitmq'])];
        },
        internalSecret: config.INTERNAL_IDENTITY_SECRET,
        bindAddress: config.SUBGRAPH_BIND_ADDRESS,
        logger,
      },
      options.port ?? config[portVariable(definition.name)],
    );
    return {
      url: server.url,
      stop: async () => {
        await server.stop();
        stop?.();
        unobserveOutbox();
        await relay?.stop();
        await bus.close();
        await cassandra.shutdown();
      },
    };
  } catch (error) {
    unobserveOutbox();
    await relay?.stop();
    await bus.close();
    await cassandra.shutdown();
    throw error;
  }
}

/** The outbox backlog of a keyspace as gauges (read from Cassandra when scraped); returns how to stop. */
function observeOutbox(keyspace: string, cassandra: CassandraClient): () => void {
  const backlog = sharedFor(1_000, () => outboxBacklog(cassandra));
  const stops = [
    outboxLag.observe(async () => [[{ keyspace }, (await backlog()).oldestAgeSeconds]]),
    outboxPending.observe(async () => [[{ keyspace }, (await backlog()).pending]]),
  ];
  return () => stops.forEach((stop) => stop());
}

/** Entry point of a long-running process: start, then stop cleanly on SIGINT/SIGTERM (or when its launcher exits). */
export async function runUntilSignalled(
  name: string,
  start: (config: Config, logger: Logger) => Promise<RunningServer>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  const logger = createLogger(config.LOG_LEVEL, { service: name });
  const stopTracing = startTracing(name);
  const running = await start(config, logger);
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { reason });
    const deadline = setTimeout(() => {
      logger.error('did not stop within 15 s; exiting anyway');
      process.exit(1);
    }, 15_000);
    try {
      await running.stop();
      await stopTracing();
      process.exit(0);
    } catch (error) {
      logger.error('error while stopping', { error });
      process.exit(1);
    } finally {
      clearTimeout(deadline);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Started by `npm start` with an IPC channel: never outlive the launcher, however it ended.
  if (process.send) process.on('disconnect', () => void stop('launcher exited'));
}

/** A subgraph's process (its src/index.ts): serve it until signalled. */
export const runSubgraph = <TContext extends object>(definition: SubgraphDefinition<TContext>) =>
  runUntilSignalled(definition.name, (config, logger) => startSubgraph(definition, { config, logger }));
