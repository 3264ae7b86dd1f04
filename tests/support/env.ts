/**
 * Environment of every test process (vitest workers and the global setup that runs the system).
 * The router believes one proxy hop, so tests can act as distinct clients with X-Forwarded-For; the per-client
 * log-in limit is low so that a test can reach it quickly.
 */
export const TEST_ENV = {
  APOLLO_TELEMETRY_DISABLED: 'true',
  LOG_LEVEL: 'error',
  ROUTER_TRUST_PROXY: '1',
  LOGIN_MAX_FAILURES_PER_CLIENT: '8',
} as const;
