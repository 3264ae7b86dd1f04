import { defineConfig } from 'vitest/config';

import { TEST_ENV } from './tests/support/env.js';

/**
 * One project per folder, one command (`npm test` runs them all):
 * - unit (tests/unit): business rules, schema and manifests, no infrastructure (`npm run test:unit`, seconds);
 * - integration (tests/integration): repositories, the bus and the outbox against the real Cassandra and RabbitMQ;
 * - faults (tests/faults): links to Cassandra and RabbitMQ cut and restored through a TCP proxy, while the real
 *   consumers work;
 * - e2e (tests/e2e): through the real router, with the whole system started once for the run;
 * - bench (bench/*.test.ts): smoke runs of the benchmarks, each starting a system of its own;
 * - cluster (tests/cluster, only with TWTR_CLUSTER=1, `npm run test:cluster`): nodes of a three-node cluster lost under
 *   load.
 */
export default defineConfig({
  resolve: {
    // One graphql instance, as under Node: Vite would otherwise give our sources graphql's ESM build while the Apollo
    // and graphql-ws packages load its CommonJS build, and instanceof checks across the two fail.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // Every process that may load @apollo/gateway runs without Apollo's telemetry (no traffic leaves the machine).
    env: { ...TEST_ENV },
    testTimeout: 30_000,
    // Values in a failed assertion printed whole: a refusal's error text, not `{ name: 'post', …(1) }`, reaches the
    // tail of a CI log, which may be all a reader of a failure gets.
    chaiConfig: { truncateThreshold: 0 },
    hookTimeout: 120_000,
    // Two workers on two cores: much of a run is waiting (outages held, processes starting, events awaited). Unit,
    // integration and faults share them first; then the end-to-end files, one at a time against the one shared system
    // (two at a time, tests bound by time failed under the contention), then the benchmark smoke runs.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results.json' },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['tests/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.int.test.ts'],
          globalSetup: ['tests/support/migrate-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'faults',
          include: ['tests/faults/**/*.faults.test.ts'],
          globalSetup: ['tests/support/migrate-setup.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.e2e.test.ts'],
          globalSetup: ['tests/support/global-setup.ts'],
          sequence: { groupOrder: 1 },
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: { name: 'bench', include: ['bench/**/*.test.ts'], sequence: { groupOrder: 2 } },
      },
      // Nodes killed and frozen on the local three-node cluster (`npm run test:cluster`, TWTR_CLUSTER=1 only).
      ...(process.env.TWTR_CLUSTER
        ? [
            {
              extends: true as const,
              test: {
                name: 'cluster',
                include: ['tests/cluster/**/*.cluster.test.ts'],
                globalSetup: ['tests/support/migrate-setup.ts'],
                // One at a time: each test takes a node of the one cluster away.
                fileParallelism: false,
                sequence: { groupOrder: 3 },
              },
            },
          ]
        : []),
    ],
  },
});
