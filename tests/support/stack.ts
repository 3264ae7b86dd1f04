import '../../router/src/no-telemetry.js';

import { type Config, loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logging.js';
import { SUBGRAPH_NAMES, type SubgraphName, urlVariable } from '../../platform/manifest.js';
import { type RunningServer, startSubgraph, type SubgraphDefinition } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import { sharedSubgraphUrls } from './client.js';

export interface Stack {
  routerUrl: string;
  /** The router's /healthz, /readyz and /metrics are under this origin, not beside routerUrl. */
  routerOperatorUrl: string;
  subgraphUrls: Record<SubgraphName, string>;
  config: Config;
  stop(): Promise<void>;
}

/** A subgraph's definition, from the module every subgraph keeps in the same place (see platform/manifest.ts). */
export async function subgraphDefinition(name: SubgraphName): Promise<SubgraphDefinition<object>> {
  const module = (await import(`../../subgraphs/${name}/src/server.ts`)) as { subgraph: SubgraphDefinition<object> };
  return module.subgraph;
}

/**
 * The whole system in this process on free ports, against the real Cassandra and RabbitMQ; `overrides` changes one
 * subgraph's configuration (its link to Cassandra through a proxy, say).
 */
export async function startStack(
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<SubgraphName, Partial<Config>>> = {},
): Promise<Stack> {
  const baseConfig = loadConfig(env);
  const logger = createLogger(baseConfig.LOG_LEVEL);
  const subgraphs = await Promise.all(
    SUBGRAPH_NAMES.map(async (name) =>
      startSubgraph(await subgraphDefinition(name), { config: { ...baseConfig, ...overrides[name] }, logger, port: 0 }),
    ),
  );
  const subgraphUrls = Object.fromEntries(SUBGRAPH_NAMES.map((name, index) => [name, subgraphs[index].url])) as Record<
    SubgraphName,
    string
  >;
  const config: Config = {
    ...baseConfig,
    ...Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), subgraphUrls[name]])),
  };
  const router = await startRouter({ ...config, ROUTER_OPERATOR_PORT: 0 }, logger, 0);
  const servers: RunningServer[] = [router, ...subgraphs];
  return {
    routerUrl: router.url,
    routerOperatorUrl: router.operatorUrl,
    subgraphUrls,
    config,
    stop: async () => {
      for (const server of servers) await server.stop();
    },
  };
}

/**
 * A second replica of one subgraph on the shared system's keyspaces and queues, and a router of its own that calls it
 * (and the shared system for the other subgraphs): requests sent through both routers are spread over two replicas, as
 * a load balancer would spread them.
 */
export async function startSecondReplica(name: SubgraphName): Promise<{ routerUrl: string; stop(): Promise<void> }> {
  const logger = createLogger('error');
  const config = loadConfig();
  const replica = await startSubgraph(await subgraphDefinition(name), { config, logger, port: 0 });
  const router = await startRouter(
    { ...config, ...sharedSubgraphUrls(), [urlVariable(name)]: replica.url, ROUTER_OPERATOR_PORT: 0 },
    logger,
    0,
  );
  return {
    routerUrl: router.url,
    stop: async () => {
      await router.stop();
      await replica.stop();
    },
  };
}
