import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, connectCassandra, cql } from '../../platform/cassandra/client.js';
import type { EventBus } from '../../platform/messaging/bus.js';
import { createEvent, type DomainEvent } from '../../platform/messaging/events.js';
import { Outbox, OutboxRelay } from '../../platform/messaging/outbox.js';
import { eventually } from '../support/client.js';
import { testConfig, testLogger } from '../support/infra.js';
import { scratchKeyspaceLike } from '../support/scratch-keyspace.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

/**
 * Relays over a scratch keyspace with the tweets outbox, publishing to recording buses: what each relay published,
 * in order, is what the test checks.
 */
const KEYSPACE = `outbox_faults_${Date.now()}`;
let scratch: Awaited<ReturnType<typeof scratchKeyspaceLike>>;
let cassandra: CassandraClient;
const relays: OutboxRelay[] = [];

beforeAll(async () => {
  scratch = await scratchKeyspaceLike('tweets', KEYSPACE);
  cassandra = scratch.cassandra;
});

// Each test's relays stop with it: one left running would hold the lease and relay the next test's rows.
afterEach(async () => {
  for (const relay of relays.splice(0)) await relay.stop();
});

afterAll(async () => {
  await scratch?.drop();
});

/**
 * A bus that records what it is asked to publish, each publish taking `delayMs` (a slow broker's confirms);
 * `confirmed` runs after each.
 */
function recordingBus(delayMs = 0, confirmed: (event: DomainEvent) => void = () => {}) {
  const published: string[] = [];
  const bus = {
    publish: async (event: DomainEvent) => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      published.push(event.id);
      confirmed(event);
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

function startRelay(bus: EventBus, options: ConstructorParameters<typeof OutboxRelay>[3] = {}, session = cassandra) {
  const relay = new OutboxRelay(session, bus, testLogger(), { pollIntervalMs: 50, ...options });
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

  it('marks, and does not send again, an event the broker confirmed when Cassandra went away before its mark', async () => {
    const proxy = await startTcpProxy(9042);
    const throughProxy = await connectCassandra(
      { ...testConfig(), CASSANDRA_CONTACT_POINTS: `127.0.0.1:${proxy.port}` },
      KEYSPACE,
    );
    try {
      const events = [200, 201, 202].map(event);
      // The link to Cassandra drops just after the broker confirms the second event, and is back 500 ms later.
      const recorder = recordingBus(0, (confirmed) => {
        if (confirmed.id !== events[1].id || recorder.published.length > 2) return;
        proxy.cut();
        setTimeout(() => proxy.restore(), 500);
      });
      const outbox = new Outbox(cassandra);
      for (const item of events) await outbox.commit([], [item]);
      startRelay(recorder.bus, {}, throughProxy);

      await eventually(async () => expect(new Set(recorder.published)).toEqual(new Set(events.map((item) => item.id))), {
        timeoutMs: 20_000,
      });
      await eventually(async () => {
        const marks = await cassandra.execute('SELECT payload, published FROM outbox WHERE bucket IN ?', [recentBuckets()]);
        const ours = marks.rows.filter((row) => events.some((item) => row.get('payload').includes(item.id)));
        expect(ours.map((row) => row.get('published'))).toEqual([true, true, true]);
      });
      expect(recorder.published).toEqual(events.map((item) => item.id));
    } finally {
      for (const relay of relays.splice(0)) await relay.stop();
      await throughProxy.shutdown();
      await proxy.close();
    }
  }, 40_000);

  it("reads each row's payload about once however fast commits come", async () => {
    // Payloads the relay read, counted as the database answered them.
    let payloadsRead = 0;
    const counting = new Proxy(cassandra, {
      get: (target, property, receiver) =>
        property === 'execute'
          ? async (...args: Parameters<CassandraClient['execute']>) => {
              const result = await target.execute(...args);
              if (/^SELECT[^]*payload[^]*FROM outbox/.test(String(args[0]))) payloadsRead += result.rowLength;
              return result;
            }
          : Reflect.get(target, property, receiver),
    });
    const recorder = recordingBus();
    const relay = startRelay(recorder.bus, { pollIntervalMs: 250, sweepIntervalMs: 600_000 }, counting);
    const outbox = new Outbox(cassandra, relay.nudge);
    // One commit at a time, each relayed before the next (a user liking one tweet after another).
    const burst = Array.from({ length: 150 }, (_, n) => event(200 + n));
    for (const item of burst) {
      await outbox.commit([], [item]);
      await eventually(async () => expect(recorder.published).toContain(item.id), { intervalMs: 1 });
    }
    // Each commit's pass read every row of the margin again, payloads and all: 11,325 payloads here before.
    console.info(`outbox relay: ${payloadsRead} payloads read for ${burst.length} events`);
    expect(payloadsRead).toBeLessThanOrEqual(burst.length * 2);
    expect(new Set(recorder.published).size).toBe(recorder.published.length);
  }, 60_000);

  it('relays commits that finish out of id order at once, and a row turning up late within the margin at the next poll', async () => {
    const recorder = recordingBus();
    const relay = startRelay(recorder.bus, { pollIntervalMs: 5_000, sweepIntervalMs: 600_000 });
    const outbox = new Outbox(cassandra, relay.nudge);
    const first = event(700);
    // Every row the relay reads from here on is newer than this; the checkpoint is older (it trails the clock by 2 s).
    const beforeFirst = new Date();
    await outbox.commit([], [first]);
    await eventually(async () => expect(recorder.published).toContain(first.id));
    // Two commits finishing out of id order: the first one's batch held back until the second is relayed. Its pass must
    // not start after the row the second's pass read (it would wait for the next poll, 5 s away).
    let releaseFirst!: () => void;
    const held = new Promise<void>((resolve) => (releaseFirst = resolve));
    const slowOnce = new Proxy(cassandra, {
      get: (target, property, receiver) =>
        property === 'batch'
          ? async (...args: Parameters<CassandraClient['batch']>) => {
              await held;
              return target.batch(...args);
            }
          : Reflect.get(target, property, receiver),
    });
    const [earlier, later] = [event(701), event(702)];
    const earlierCommitted = new Outbox(slowOnce, relay.nudge).commit([], [earlier]);
    await outbox.commit([], [later]);
    await eventually(async () => expect(recorder.published).toContain(later.id));
    releaseFirst();
    await earlierCommitted;
    await eventually(async () => expect(recorder.published).toContain(earlier.id), { timeoutMs: 3_000 });

    // A row written now with an id from before all of those: behind every row read so far, ahead of the checkpoint.
    const late = event(800);
    const lateId = cql.TimeUuid.fromDate(beforeFirst);
    await cassandra.execute(
      'INSERT INTO outbox (bucket, id, payload) VALUES (?, ?, ?)',
      [Math.floor(lateId.getDate().getTime() / 60_000), lateId, JSON.stringify(late)],
      { prepare: true },
    );
    await outbox.commit([], [event(801)]);
    await eventually(async () => expect(recorder.published).toContain(late.id), { timeoutMs: 15_000 });
    expect(recorder.published.filter((id) => id === late.id)).toHaveLength(1);
  }, 60_000);

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

function recentBuckets() {
  const now = Math.floor(Date.now() / 60_000);
  return [now - 1, now];
}
