/**
 * Environment of every test process (vitest workers and the global setup that runs the system).
 * The router believes one proxy hop, so tests can act as distinct clients with X-Forwarded-For; limits are low so
 * that tests reach them quickly.
 */
export const TEST_ENV = {
  APOLLO_TELEMETRY_DISABLED: 'true',
  LOG_LEVEL: 'error',
  ROUTER_TRUST_PROXY: '1',
  // Every router a test starts serves its operator endpoints on a free port (RunningServer.operatorUrl says which).
  ROUTER_OPERATOR_PORT: '0',
  LOGIN_MAX_FAILURES_PER_CLIENT: '8',
  LOGIN_MAX_FAILURES_PER_USERNAME: '12',
  LOGIN_MAX_PASSWORD_CHECKS_PER_CLIENT: '12',
  // Per viewer and per client address (tests sign up from a fresh address each time, see client.ts).
  RATE_LIMIT_POST_TWEET: '40/60',
  RATE_LIMIT_SIGN_UP: '30/60',
  RATE_LIMIT_UPDATE_PROFILE: '5/60',
  // Websocket caps low enough to reach; loopback clients (tests that send no X-Forwarded-For) are exempt per address.
  ROUTER_WS_MAX_SOCKETS_PER_CLIENT: '4',
  ROUTER_WS_MAX_SUBSCRIPTIONS_PER_SOCKET: '3',
  ROUTER_WS_MAX_SUBSCRIPTIONS_PER_VIEWER: '5',
  // Small numbers so tests reach them: authors with more than 5 followers are merged at read time, audiences of more
  // than 2 go through the fan-out work queue, and timelines are trimmed after about one insert in four.
  FEED_FANOUT_THRESHOLD: '5',
  FEED_FANOUT_CHUNK_SIZE: '2',
  FEED_TRIM_EVERY: '4',
} as const;

/**
 * This process's environment without the tests' low limits and small fan-out numbers: what a benchmark started from a
 * test (its smoke run) passes on, so it measures the product's defaults, as it does when run by hand.
 */
export function withoutTestLimits(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !(key in TEST_ENV)));
}
