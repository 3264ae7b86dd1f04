import { defineConfig } from 'vitest/config';
import { TEST_ENV } from './tests/support/env.js';

export default defineConfig({
  resolve: {
    // One graphql instance, as under Node: Vite would otherwise give our sources graphql's ESM build while the Apollo
    // and graphql-ws packages load its CommonJS build, and instanceof checks across the two fail.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['tests/**/*.test.ts', 'subgraphs/**/*.test.ts', 'router/**/*.test.ts'],
    globalSetup: ['tests/support/global-setup.ts'],
    // Every process that may load @apollo/gateway runs without Apollo's telemetry (no traffic leaves the machine).
    env: { ...TEST_ENV },
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
  },
});
