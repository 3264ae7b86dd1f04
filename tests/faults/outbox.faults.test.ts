import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, cql } from '../../platform/cassandra/client.js';
import type { EventBus } from '../../platform/messaging/bus.js';
import { createEvent, type DomainEvent } from '../../platform/messaging/events.js';
import { Outbox, OutboxRelay } from '../../platform/messaging/outbox.js';
import { eventually } from '../support/client.js';
import { testLogger } from '../support/infra.js';
import { scratchKeyspaceLike } from '../support/scratch-keyspace.js';

/**
 * Relays over a scratch keyspace with the tweets outbox, publishing to recording buses: what each relay published,
 * in order, is what the test checks.
 */
let scratch: Awaited<ReturnType<typeof scratchKeyspaceLike>>;
let cassandra: CassandraClient;
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  scratch = await scratchKeyspaceLike('tweets', `outbox_faults_${Date.now()}`);
  cassandra = scratch.cassandra;
});

// Each test's relays stop with it: one left running would hold the lease and relay the next test's rows.
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.stop();
});

afterAll(async () => {
  await scratch?.drop();
});

/** A bus that records what it is asked to publish, each publish taking `delayMs` (a slow broker's confirms). */
function recordingBus(delayMs = 0) {
  const published: string[] = [];
  const bus = {
    publish: async (event: DomainEvent) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      published.push(event.id);
    },
  } as unknown as EventBus;
  return { bus, published };
}

const event = (n: number) =>
  createEvent(
    'tweet.created',
    { tweetId: `t${n}`, authorId: 'a', text: `n${n}`, createdAt: new Date().toISOString() },
    { correlationId: `c${n}` },
  );

function startRelay(bus: EventBus, options: ConstructorParameters<typeof OutboxRelay>[3] = {}) {
  const relay = new OutboxRelay(cassandra, bus, testLogger(), { pollIntervalMs: 50, ...options });
  relays.push(relay);
  relay.start();
  return relay;
}

describe('the outbox relay under faults', () => {
  it('keeps its lease through a backlog that outlasts it, so a second relay publishes nothing twice', async () => {
    // A backlog of 60 events, published one confirm every 100 ms: 6 s of draining against a 2 s lease.
    const backlog = Array.from({ length: 60 }, (_, n) => event(n));
    const outbox = new Outbox(cassandra);
    for (const item of backlog) await outbox.commit([], [item]);
    const slow = recordingBus(100);
    startRelay(slow.bus, { leaseSeconds: 2 });
    await eventually(async () => expect(slow.published.length).toBeGreaterThan(5));
    const second = recordingBus();
    startRelay(second.bus, { leaseSeconds: 2 });

    const ids = backlog.map((item) => item.id);
    await eventually(async () => expect(new Set([...slow.published, ...second.published])).toEqual(new Set(ids)), {
      timeoutMs: 20_000,
    });
    const published = [...slow.published, ...second.published];
    const twice = published.length - new Set(published).size;
    console.info(
      `relay fencing: ${ids.length} events, ${slow.published.length} published by the slow relay, ` +
        `${second.published.length} by the second, ${twice} published twice`,
    );
    expect(twice).toBe(0);
    expect(slow.published).toEqual(ids.slice(0, slow.published.length));
  }, 40_000);

  it('relays a row that became visible after the checkpoint had passed it', async () => {
    const recorder = recordingBus();
    startRelay(recorder.bus, { sweepIntervalMs: 500 });
    const onTime = event(100);
    await new Outbox(cassandra).commit([], [onTime]);
    await eventually(async () => expect(recorder.published).toContain(onTime.id));
    // A row written now with an id from 5 s ago, as a writer whose batch was delayed (or whose clock is behind) would.
    const late = event(101);
    const lateId = cql.TimeUuid.fromDate(new Date(Date.now() - 5_000));
    // The checkpoint has moved past it: only the sweep can find it.
    await eventually(async () => {
      const checkpoint = (await cassandra.execute("SELECT last_id FROM outbox_checkpoint WHERE name = 'relay'"))
        .first()
        .get('last_id');
      expect(checkpoint.getDate().getTime()).toBeGreaterThan(lateId.getDate().getTime());
    });
    await cassandra.execute(
      'INSERT INTO outbox (bucket, id, payload) VALUES (?, ?, ?)',
      [Math.floor(lateId.getDate().getTime() / 60_000), lateId, JSON.stringify(late)],
      {
        prepare: true,
      },
    );
    const writtenAt = performance.now();
    await eventually(async () => expect(recorder.published).toContain(late.id), { timeoutMs: 10_000 });
    console.info(`late outbox row: relayed ${((performance.now() - writtenAt) / 1000).toFixed(1)} s after it was written`);
    expect(recorder.published.filter((id) => id === late.id)).toHaveLength(1);
  }, 30_000);
});
