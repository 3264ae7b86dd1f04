/**
 * The subgraphs twtr runs: the one list from which composition, codegen, `npm start`, the migrations, the test stack,
 * the router's subgraph URLs and the configuration's ports are derived. Adding a subgraph is an entry here plus its
 * folders: subgraphs/<name>/ (schema.graphql; src/server.ts exporting `subgraph`; src/index.ts) and migrations/<name>/.
 * Each subgraph owns the Cassandra keyspace of its own name.
 */
export const SUBGRAPHS = [
  { name: 'users', port: 4001, publishesEvents: true, queues: [] },
  { name: 'tweets', port: 4002, publishesEvents: true, queues: ['tweets'] },
  { name: 'follows', port: 4003, publishesEvents: true, queues: ['follows'] },
  { name: 'feed', port: 4004, publishesEvents: false, queues: ['feed', 'feed.fanout', 'feed.engagements'] },
  { name: 'engagement', port: 4005, publishesEvents: true, queues: ['engagement'] },
  { name: 'notifications', port: 4006, publishesEvents: false, queues: ['notifications', 'notifications.storms'] },
] as const satisfies readonly SubgraphEntry[];

interface SubgraphEntry {
  name: string;
  /** Local default; `<NAME>_PORT` overrides it. */
  port: number;
  /** Whether it publishes events, through an outbox in its keyspace relayed to RabbitMQ. */
  publishesEvents: boolean;
  /** The durable queues its consumers own (each with its `<queue>.dead`), within TWTR_NAMESPACE. */
  queues: readonly string[];
}

export type SubgraphName = (typeof SUBGRAPHS)[number]['name'];
export const SUBGRAPH_NAMES: readonly SubgraphName[] = SUBGRAPHS.map((subgraph) => subgraph.name);

/** Every consumer queue of the system (for operators' tools and test clean-up). */
export const QUEUES: readonly string[] = SUBGRAPHS.flatMap((subgraph) => subgraph.queues);

export const subgraphNamed = (name: SubgraphName) => SUBGRAPHS.find((subgraph) => subgraph.name === name)!;

/** The keyspace a subgraph owns: its name, within the configured namespace (TWTR_NAMESPACE). */
export const keyspaceOf = (name: SubgraphName, namespace = '') => `${namespace}${name}`;

/** The variables that place a subgraph: where it listens, and where the router finds it. */
export const portVariable = <N extends SubgraphName>(name: N) => `${name.toUpperCase() as Uppercase<N>}_PORT` as const;
export const urlVariable = <N extends SubgraphName>(name: N) => `${name.toUpperCase() as Uppercase<N>}_URL` as const;

/** Each subgraph's process entry point and the module exporting its `subgraph` definition, from the repository root. */
export const entryOf = (name: SubgraphName) => `subgraphs/${name}/src/index.ts`;
export const ROUTER_ENTRY = 'router/src/index.ts';
/** Where tsc puts a service's entry in a build (scripts/build.sh, the image's dist/), relative to the build's root. */
export const compiledEntry = (entry: string) => entry.replace(/\.ts$/, '.js');

/** The composed supergraph: a build artifact (`npm run compose`), read as a file by the router. */
export const SUPERGRAPH_FILE = new URL('../schema/supergraph.graphql', import.meta.url);
