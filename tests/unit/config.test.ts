import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { splitStatements } from '../../migrations/runner.js';
import { CONFIG_VARIABLES, loadConfig } from '../../platform/config.js';
import { brokerNodes, rotatingBrokerAddress } from '../../platform/messaging/brokers.js';
import { assertNoTelemetry } from '../../router/src/no-telemetry.js';

describe('configuration', () => {
  it('has development defaults', () => {
    expect(loadConfig({})).toMatchObject({
      ROUTER_PORT: 4000,
      ROUTER_OPERATOR_PORT: 9400,
      ROUTER_OPERATOR_BIND_ADDRESS: '127.0.0.1',
      USERS_URL: 'http://127.0.0.1:4001/graphql',
      JWT_TTL_SECONDS: 3600,
    });
  });

  it('points at the local three-node cluster with TWTR_CLUSTER=1, where nothing says otherwise', () => {
    const cluster = loadConfig({ TWTR_CLUSTER: '1' });
    expect(cluster.CASSANDRA_CONTACT_POINTS.split(',')).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(cluster.CASSANDRA_REPLICATION).toMatch(/NetworkTopologyStrategy.*'datacenter1': 3/);
    expect(brokerNodes(cluster.AMQP_URL).map((node) => node.port)).toEqual([5701, 5702, 5703]);
    expect(loadConfig({ TWTR_CLUSTER: '1', AMQP_URL: 'amqp://a:b@127.0.0.1:6000' }).AMQP_URL).toBe('amqp://a:b@127.0.0.1:6000');
    expect(loadConfig({}).CASSANDRA_CONTACT_POINTS).toBe('127.0.0.1');
  });

  it('refuses to run in production with development secrets', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET, INTERNAL_IDENTITY_SECRET/);
    const secrets = { JWT_SECRET: 'p'.repeat(40), INTERNAL_IDENTITY_SECRET: 'q'.repeat(40) };
    expect(loadConfig({ NODE_ENV: 'production', ...secrets }).NODE_ENV).toBe('production');
  });

  it('turns introspection, the landing page and the loopback exemption off in production unless asked for', () => {
    const secrets = { JWT_SECRET: 'p'.repeat(40), INTERNAL_IDENTITY_SECRET: 'q'.repeat(40) };
    const flags = (config: ReturnType<typeof loadConfig>) => [
      config.ROUTER_INTROSPECTION,
      config.ROUTER_LANDING_PAGE,
      config.RATE_LIMIT_EXEMPT_LOOPBACK,
    ];
    expect(flags(loadConfig({}))).toEqual([true, true, true]);
    expect(flags(loadConfig({ NODE_ENV: 'production', ...secrets }))).toEqual([false, false, false]);
    expect(
      flags(loadConfig({ NODE_ENV: 'production', ...secrets, ROUTER_INTROSPECTION: 'true', ROUTER_LANDING_PAGE: 'true' })),
    ).toEqual([true, true, false]);
  });

  it('reads rate limits as <count>/<seconds>', () => {
    expect(loadConfig({ RATE_LIMIT_POST_TWEET: '5/60' }).RATE_LIMIT_POST_TWEET).toEqual({ max: 5, windowSeconds: 60 });
    expect(loadConfig({}).RATE_LIMIT_SIGN_UP).toEqual({ max: 20, windowSeconds: 3600 });
    expect(() => loadConfig({ RATE_LIMIT_FOLLOW: 'often' })).toThrow(/RATE_LIMIT_FOLLOW/);
    expect(() => loadConfig({ RATE_LIMIT_FOLLOW: '0/60' })).toThrow(/RATE_LIMIT_FOLLOW/);
  });

  it('binds subgraphs to loopback unless told otherwise', () => {
    expect(loadConfig({}).SUBGRAPH_BIND_ADDRESS).toBe('127.0.0.1');
  });

  it('is documented, every variable of it, in docs/operations.md', () => {
    const documented = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
    expect(CONFIG_VARIABLES.length).toBeGreaterThan(40);
    expect(CONFIG_VARIABLES.filter((variable) => !documented.includes(`\`${variable}\``))).toEqual([]);
  });

  it('names every invalid variable', () => {
    expect(() => loadConfig({ JWT_SECRET: 'short', ROUTER_PORT: 'x' })).toThrow(
      /JWT_SECRET[\s\S]*ROUTER_PORT|ROUTER_PORT[\s\S]*JWT_SECRET/,
    );
  });
});

describe('no traffic to Apollo', () => {
  it('the gateway refuses to be built unless telemetry is disabled, and with an APOLLO_KEY', () => {
    expect(() => assertNoTelemetry({})).toThrow(/APOLLO_TELEMETRY_DISABLED/);
    expect(() => assertNoTelemetry({ APOLLO_TELEMETRY_DISABLED: 'true', APOLLO_KEY: 'service:x' })).toThrow(/APOLLO_KEY/);
    expect(() => assertNoTelemetry({ APOLLO_TELEMETRY_DISABLED: 'true' })).not.toThrow();
  });

  it('is disabled in this very test process and in every script that runs the router', () => {
    expect(process.env.APOLLO_TELEMETRY_DISABLED).toBe('true');
    expect(process.env.APOLLO_KEY).toBeUndefined();
    const ci = readFileSync(new URL('../../.ci/run', import.meta.url), 'utf8');
    expect(ci).toMatch(/APOLLO_TELEMETRY_DISABLED=true/);
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
    expect(compose.match(/APOLLO_TELEMETRY_DISABLED: "true"/g)?.length).toBeGreaterThanOrEqual(1);
  });
});

describe('migration files', () => {
  it('split into statements without comments', () => {
    expect(
      splitStatements('-- a comment; with a semicolon\nCREATE TABLE a (x int);\n\nCREATE TABLE b (y int); -- trailing\n'),
    ).toEqual(['CREATE TABLE a (x int)', 'CREATE TABLE b (y int)']);
  });
});

describe('broker addresses', () => {
  it('reads every node of AMQP_URL with its credentials and virtual host', () => {
    expect(brokerNodes('amqp://u%40x:p@10.0.0.1:5701/v%2F1, amqp://10.0.0.2')).toEqual([
      { protocol: 'amqp', hostname: '10.0.0.1', port: 5701, username: 'u@x', password: 'p', vhost: 'v/1', heartbeat: 5 },
      { protocol: 'amqp', hostname: '10.0.0.2', port: 5672, username: 'guest', password: 'guest', vhost: '/', heartbeat: 5 },
    ]);
  });

  it('moves a recovering connection to the next node at each retry, trying them all before backing off', () => {
    const { address, calculateDelay } = rotatingBrokerAddress('amqp://h1:1,amqp://h2:2,amqp://h3:3');
    const seen = [address.port];
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      delays.push(calculateDelay(attempt));
      seen.push(address.port);
    }
    expect(seen).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(delays.slice(0, 2)).toEqual([0, 0]);
    expect(delays[2]).toBeGreaterThan(0);
    expect(delays[5]).toBeLessThanOrEqual(5_000 * 1.2);
    expect(delays[5]).toBeGreaterThan(delays[2]);
  });
});
