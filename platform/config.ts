import { z } from 'zod';

import { portVariable, type SubgraphName, SUBGRAPHS, urlVariable } from './manifest.js';

/**
 * Every environment variable twtr reads, validated once at start-up.
 * Defaults are for local development only; in production (NODE_ENV=production) the secrets must be set.
 */
const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789abcdef';
const DEV_INTERNAL_SECRET = 'dev-only-router-subgraph-secret-0123456789abc';

const port = z.coerce.number().int().min(0).max(65535);
const secret = z.string().min(32, 'must be at least 32 bytes');
const positive = z.coerce.number().int().positive();
/** "on"/"off" style switches; unset means "the default for this NODE_ENV", decided in loadConfig. */
const flag = z
  .enum(['true', 'false'])
  .transform((value) => value === 'true')
  .optional();

/** A rate limit written `<count>/<seconds>`: at most count actions within any window of that many seconds. */
export interface RateLimit {
  max: number;
  windowSeconds: number;
}
const rateLimit = z
  .string()
  .regex(/^\d{1,9}\/\d{1,9}$/, 'must be <count>/<seconds>, e.g. 100/900')
  .transform((value): RateLimit => {
    const [max, windowSeconds] = value.split('/').map(Number);
    return { max, windowSeconds };
  })
  .refine((limit) => limit.max > 0 && limit.windowSeconds > 0, 'count and seconds must be positive');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),

  CASSANDRA_CONTACT_POINTS: z.string().default('127.0.0.1'),
  CASSANDRA_LOCAL_DC: z.string().default('datacenter1'),
  /** Credentials when the cluster requires them (K8ssandra does); from a Secret, never from the ConfigMap. */
  CASSANDRA_USERNAME: z.string().optional(),
  CASSANDRA_PASSWORD: z.string().optional(),
  /** Replication map used when a migration creates a keyspace. */
  CASSANDRA_REPLICATION: z.string().default("{'class': 'SimpleStrategy', 'replication_factor': 1}"),

  /**
   * Prefixes every keyspace and queue name, so several twtr systems can share one Cassandra and one RabbitMQ (the
   * fault tests run isolated systems this way). Letters, digits and underscores; empty by default.
   */
  TWTR_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9_]{0,20}$/, 'must be at most 20 lowercase letters, digits or underscores')
    .default(''),
  /** Every node of the broker cluster, comma-separated; a connection that loses its node moves to the next. */
  AMQP_URL: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_EXCHANGE: z.string().default('twtr.events'),

  JWT_SECRET: secret.default(DEV_JWT_SECRET),
  JWT_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  INTERNAL_IDENTITY_SECRET: secret.default(DEV_INTERNAL_SECRET),
  /** Failed log-ins (and password checks) count against a username or client address for this long. */
  LOGIN_FAILURE_WINDOW_SECONDS: z.coerce.number().int().positive().default(900),
  /** Failures within the window after which one client address is refused for one username (RATE_LIMITED). */
  LOGIN_MAX_FAILURES_PER_USERNAME_AND_CLIENT: positive.default(5),
  /** Failures within the window, from all addresses together, after which a username is refused. */
  LOGIN_MAX_FAILURES_PER_USERNAME: positive.default(100),
  /** Failures within the window, on any usernames, after which a client address is refused. */
  LOGIN_MAX_FAILURES_PER_CLIENT: positive.default(20),
  /** Failures after which each further attempt is answered more slowly. */
  LOGIN_SLOWDOWN_AFTER_FAILURES: z.coerce.number().int().min(0).default(3),
  /**
   * Passwords checked within the window for one client address, right or wrong (each is an argon2 verification),
   * after which it is refused before its password is checked. Loopback is exempt with RATE_LIMIT_EXEMPT_LOOPBACK.
   */
  LOGIN_MAX_PASSWORD_CHECKS_PER_CLIENT: positive.default(60),

  /** Authors with more followers than this are not fanned out on write; their tweets are merged at read time. */
  FEED_FANOUT_THRESHOLD: z.coerce.number().int().positive().default(10_000),
  /** Followers handled per fan-out work item; bigger audiences are split into items on their own queue. */
  FEED_FANOUT_CHUNK_SIZE: z.coerce.number().int().positive().default(1_000),
  /** A timeline is trimmed back to its newest items after about one in this many inserts. */
  FEED_TRIM_EVERY: z.coerce.number().int().positive().default(16),
  /** How long notifications are kept (they expire by TTL, read or not): 60 days by default. */
  NOTIFICATION_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .positive()
    .default(60 * 86_400),
  /**
   * The feed queues a feed replica consumes, comma-separated: `feed` (tweets, follows and reposts, in order; with it
   * `feed.engagements`, likes, for feed pages' counts and flags) and `feed.fanout` (bulk fan-out work items). Both by
   * default; a replica with only `feed.fanout` is a fan-out worker, so bulk fan-out never shares an event loop with the
   * main queue or with serving reads.
   */
  FEED_QUEUES: z
    .string()
    .default('feed,feed.fanout')
    .transform((value) => value.split(',').map((queue) => queue.trim()))
    .pipe(z.array(z.enum(['feed', 'feed.fanout'])).min(1)),
  /**
   * Per viewer (shared by every replica): posts, deletions, follows and unfollows together, likes, unlikes, reposts
   * and their undoing together, profile changes, notifications marked read.
   */
  RATE_LIMIT_POST_TWEET: rateLimit.default({ max: 100, windowSeconds: 900 }),
  RATE_LIMIT_DELETE_TWEET: rateLimit.default({ max: 100, windowSeconds: 900 }),
  RATE_LIMIT_FOLLOW: rateLimit.default({ max: 200, windowSeconds: 900 }),
  RATE_LIMIT_ENGAGE: rateLimit.default({ max: 300, windowSeconds: 900 }),
  RATE_LIMIT_UPDATE_PROFILE: rateLimit.default({ max: 30, windowSeconds: 900 }),
  RATE_LIMIT_MARK_NOTIFICATIONS_READ: rateLimit.default({ max: 300, windowSeconds: 900 }),
  /** Per client address: sign-ups (each costs an argon2 hash). */
  RATE_LIMIT_SIGN_UP: rateLimit.default({ max: 20, windowSeconds: 3600 }),
  /** Whether loopback addresses skip per-address limits; defaults to true except with NODE_ENV=production. */
  RATE_LIMIT_EXEMPT_LOOPBACK: flag,

  /** Where subgraphs listen. Loopback unless set: only the router is meant to be reachable (containers set 0.0.0.0). */
  SUBGRAPH_BIND_ADDRESS: z.string().default('127.0.0.1'),
  ROUTER_BIND_ADDRESS: z.string().default('0.0.0.0'),
  ROUTER_PORT: port.default(4000),
  /**
   * The router's /healthz, /readyz and /metrics, apart from its public port (which serves only /graphql): loopback
   * unless probes and Prometheus come from elsewhere (a pod sets 0.0.0.0 and keeps the port from the public).
   */
  ROUTER_OPERATOR_PORT: port.default(9400),
  ROUTER_OPERATOR_BIND_ADDRESS: z.string().default('127.0.0.1'),
  /** Operation limits, checked before an operation is planned (HTTP and websockets alike). */
  ROUTER_MAX_TOKENS: positive.default(2_000),
  ROUTER_MAX_DEPTH: positive.default(12),
  ROUTER_MAX_ALIASES: positive.default(30),
  ROUTER_MAX_DIRECTIVES: positive.default(10),
  /** Each field costs 1; a field with `first` multiplies what it selects by `first` (20 when not given). */
  ROUTER_MAX_COST: positive.default(5_000),
  /** Bytes of subgraph answers one request may gather before it is refused (RESPONSE_TOO_LARGE). */
  ROUTER_MAX_RESPONSE_BYTES: positive.default(4 << 20),
  /** HTTP requests in flight at once per client address and per signed-in viewer (429 RATE_LIMITED beyond). */
  ROUTER_MAX_REQUESTS_PER_CLIENT: positive.default(64),
  ROUTER_MAX_REQUESTS_PER_VIEWER: positive.default(32),
  /** Open connections in all, and per peer address when no proxy is trusted (beyond: the connection is dropped). */
  ROUTER_MAX_CONNECTIONS: positive.default(25_000),
  ROUTER_MAX_CONNECTIONS_PER_CLIENT: positive.default(128),
  /** How long a client may take to send a request's headers, and its whole request. */
  ROUTER_HEADERS_TIMEOUT_MS: positive.default(10_000),
  ROUTER_REQUEST_TIMEOUT_MS: positive.default(30_000),
  /** How long the query planner may work on one operation (on its own thread) before the operation is refused. */
  ROUTER_MAX_PLANNING_MS: positive.default(1_000),
  /** Websocket limits: open sockets (all, and per client address), subscriptions per socket and per viewer. */
  ROUTER_WS_MAX_SOCKETS: positive.default(20_000),
  ROUTER_WS_MAX_SOCKETS_PER_CLIENT: positive.default(16),
  ROUTER_WS_MAX_SUBSCRIPTIONS_PER_SOCKET: positive.default(16),
  ROUTER_WS_MAX_SUBSCRIPTIONS_PER_VIEWER: positive.default(32),
  /** Queries and mutations in flight at once on one websocket. */
  ROUTER_WS_MAX_OPERATIONS_PER_SOCKET: positive.default(16),
  /** Bytes one websocket may have waiting to be sent (a client that does not read is closed with 4429). */
  ROUTER_WS_MAX_UNSENT_BYTES: positive.default(1 << 20),
  /** Introspection and the Apollo Sandbox landing page; default to on, except with NODE_ENV=production. */
  ROUTER_INTROSPECTION: flag,
  ROUTER_LANDING_PAGE: flag,
  /** How long the router reuses a viewer-independent entity fetch across subscribers of one event; 0 turns it off. */
  ROUTER_SHARED_FETCH_TTL_MS: z.coerce.number().int().min(0).default(1000),
  /** Lifetime of the identity assertions the router signs for subgraphs (each request, each (re)subscription). */
  ROUTER_ASSERTION_TTL_SECONDS: positive.default(60),
  /** Proxy hops in front of the router whose X-Forwarded-For is believed (0: use the socket's address). */
  ROUTER_TRUST_PROXY: z.coerce.number().int().min(0).default(0),
  ...subgraphPlacement(),
});

/** `<NAME>_PORT` (where a subgraph listens) and `<NAME>_URL` (where the router finds it), for every subgraph. */
function subgraphPlacement() {
  type Placement = { [N in SubgraphName as ReturnType<typeof portVariable<N>>]: z.ZodDefault<typeof port> } & {
    [N in SubgraphName as ReturnType<typeof urlVariable<N>>]: z.ZodDefault<z.ZodURL>;
  };
  return Object.fromEntries(
    SUBGRAPHS.flatMap((subgraph) => [
      [portVariable(subgraph.name), port.default(subgraph.port)],
      [urlVariable(subgraph.name), z.url().default(`http://127.0.0.1:${subgraph.port}/graphql`)],
    ]),
  ) as Placement;
}

/** Every variable the configuration reads (docs/operations.md documents each; a test checks). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

type ParsedEnv = z.infer<typeof envSchema>;
type EnvironmentDefaults = 'RATE_LIMIT_EXEMPT_LOOPBACK' | 'ROUTER_INTROSPECTION' | 'ROUTER_LANDING_PAGE';
export type Config = Omit<ParsedEnv, EnvironmentDefaults> & Record<EnvironmentDefaults, boolean>;

/**
 * The local three-node cluster `npm run cluster:start` runs (scripts/cluster.sh): with TWTR_CLUSTER=1 these are the
 * defaults instead of the single development node and broker. Anything set explicitly still wins.
 */
export const LOCAL_CLUSTER_DEFAULTS = {
  CASSANDRA_CONTACT_POINTS: '127.0.0.2,127.0.0.3,127.0.0.4',
  CASSANDRA_REPLICATION: "{'class': 'NetworkTopologyStrategy', 'datacenter1': 3}",
  AMQP_URL: [5701, 5702, 5703].map((port) => `amqp://guest:guest@127.0.0.1:${port}`).join(','),
} as const;

const onLocalCluster = (env: NodeJS.ProcessEnv) => env.TWTR_CLUSTER === '1' || env.TWTR_CLUSTER === 'true';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(onLocalCluster(env) ? { ...LOCAL_CLUSTER_DEFAULTS, ...env } : env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n${problems.join('\n')}`);
  }
  const development = parsed.data.NODE_ENV !== 'production';
  const config: Config = {
    ...parsed.data,
    RATE_LIMIT_EXEMPT_LOOPBACK: parsed.data.RATE_LIMIT_EXEMPT_LOOPBACK ?? development,
    ROUTER_INTROSPECTION: parsed.data.ROUTER_INTROSPECTION ?? development,
    ROUTER_LANDING_PAGE: parsed.data.ROUTER_LANDING_PAGE ?? development,
  };
  if (config.NODE_ENV === 'production') {
    const devDefaults = (['JWT_SECRET', 'INTERNAL_IDENTITY_SECRET'] as const).filter(
      (key) => config[key] === DEV_JWT_SECRET || config[key] === DEV_INTERNAL_SECRET,
    );
    if (devDefaults.length > 0) {
      throw new Error(`refusing to start in production with development default secrets: ${devDefaults.join(', ')}`);
    }
  }
  return config;
}
