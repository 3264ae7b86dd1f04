import { z } from 'zod';

/**
 * Every environment variable twtr reads, validated once at start-up.
 * Defaults are for local development only; in production (NODE_ENV=production) the secrets must be set.
 */
const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789abcdef';
const DEV_INTERNAL_SECRET = 'dev-only-router-subgraph-secret-0123456789abc';

const port = z.coerce.number().int().min(0).max(65535);
const secret = z.string().min(32, 'must be at least 32 bytes');

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),

  CASSANDRA_CONTACT_POINTS: z.string().default('127.0.0.1'),
  CASSANDRA_LOCAL_DC: z.string().default('datacenter1'),
  /** Replication map used when a migration creates a keyspace. */
  CASSANDRA_REPLICATION: z.string().default("{'class': 'SimpleStrategy', 'replication_factor': 1}"),

  AMQP_URL: z.string().default('amqp://guest:guest@127.0.0.1:5672'),
  AMQP_EXCHANGE: z.string().default('twtr.events'),

  JWT_SECRET: secret.default(DEV_JWT_SECRET),
  JWT_TTL_SECONDS: z.coerce.number().int().positive().default(3600),
  INTERNAL_IDENTITY_SECRET: secret.default(DEV_INTERNAL_SECRET),
  /** Failed log-ins count against a username or client address for this long. */
  LOGIN_FAILURE_WINDOW_SECONDS: z.coerce.number().int().positive().default(900),
  /** Failures within the window after which a username is refused with RATE_LIMITED. */
  LOGIN_MAX_FAILURES_PER_USERNAME: z.coerce.number().int().positive().default(5),
  /** Failures within the window after which a client address is refused with RATE_LIMITED. */
  LOGIN_MAX_FAILURES_PER_CLIENT: z.coerce.number().int().positive().default(20),
  /** Failures after which each further attempt is answered more slowly. */
  LOGIN_SLOWDOWN_AFTER_FAILURES: z.coerce.number().int().min(0).default(3),

  /** Authors with more followers than this are not fanned out on write; their tweets are merged at read time. */
  FEED_FANOUT_THRESHOLD: z.coerce.number().int().positive().default(10_000),
  /** Followers handled per fan-out work item; bigger audiences are split into items on their own queue. */
  FEED_FANOUT_CHUNK_SIZE: z.coerce.number().int().positive().default(1_000),
  /** A timeline is trimmed back to its newest items after about one in this many inserts. */
  FEED_TRIM_EVERY: z.coerce.number().int().positive().default(16),
  ROUTER_PORT: port.default(4000),
  /** How long the router reuses a viewer-independent entity fetch across subscribers of one event; 0 turns it off. */
  ROUTER_SHARED_FETCH_TTL_MS: z.coerce.number().int().min(0).default(1000),
  /** Proxy hops in front of the router whose X-Forwarded-For is believed (0: use the socket's address). */
  ROUTER_TRUST_PROXY: z.coerce.number().int().min(0).default(0),
  USERS_PORT: port.default(4001),
  TWEETS_PORT: port.default(4002),
  FOLLOWS_PORT: port.default(4003),
  FEED_PORT: port.default(4004),
  USERS_URL: z.url().default('http://127.0.0.1:4001/graphql'),
  TWEETS_URL: z.url().default('http://127.0.0.1:4002/graphql'),
  FOLLOWS_URL: z.url().default('http://127.0.0.1:4003/graphql'),
  FEED_URL: z.url().default('http://127.0.0.1:4004/graphql'),
});

export type Config = z.infer<typeof envSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n${problems.join('\n')}`);
  }
  const config = parsed.data;
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
