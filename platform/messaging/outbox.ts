import { randomUUID } from 'node:crypto';

import type cassandra from 'cassandra-driver';

import { batchTimedOut, type CassandraClient, cql, LIGHTWEIGHT_TRANSACTION, type Statement } from '../cassandra/client.js';
import type { Logger } from '../logging.js';
import { contextFrom, inSpan, SpanKind } from '../observability/tracing.js';
import type { EventBus } from './bus.js';
import type { DomainEvent } from './events.js';

/**
 * How long after its first try a commit still starts another try of a batch that timed out: longer than a dead node
 * takes to be convicted (about 18 s), short of the router's 30 s for a request (which a last try may still outlast).
 */
const BATCH_WAIT_MS = 25_000;

const BUCKET_MS = 60_000;
const ROW_TTL_SECONDS = 7 * 24 * 3600;
const CLOCK_SKEW_MARGIN_MS = 2_000;
const PAGE_SIZE = 500;

const bucketOf = (date: Date) => Math.floor(date.getTime() / BUCKET_MS);

type TimeUuid = InstanceType<typeof cql.TimeUuid>;
/** Whether timeuuid `a` sorts before `b` by time, to the 100 ns tick (ms × 10,000 + ticks is past 2^53: compared apart). */
const before = (a: TimeUuid, b: TimeUuid) => {
  const [x, y] = [a.getDatePrecision(), b.getDatePrecision()];
  return x.date.getTime() < y.date.getTime() || (x.date.getTime() === y.date.getTime() && x.ticks < y.ticks);
};
const earliest = (a: TimeUuid, b: TimeUuid) => (before(b, a) ? b : a);

/**
 * Transactional outbox: a service writes its domain change and the events it causes in one logged batch, and a relay
 * publishes them to RabbitMQ afterwards. An acknowledged write therefore always reaches the bus, even if the broker was
 * down when it happened. Tables: see migrations/<keyspace>/*_outbox.cql (the same in every publishing keyspace).
 *
 * Rows live in one-minute buckets, ordered by a timeuuid, and expire by TTL: the relay never deletes (no tombstones).
 * The relay keeps a checkpoint ("everything up to here is published") that trails the clock by a margin, and sweeps
 * behind it for rows that became visible later still (see OutboxRelay).
 */
export class Outbox {
  constructor(
    private readonly cassandra: CassandraClient,
    /** Called after each commit with its first event's id, to wake the relay. */
    private readonly committed: (firstId: TimeUuid) => void = () => {},
  ) {}

  /**
   * Applies the statements and records the events atomically. `timestampMicros` sets the write time of every
   * statement, so a retried or reordered write carrying the same version lands the same way.
   */
  async commit(statements: Statement[], events: DomainEvent[], options: { timestampMicros?: number } = {}): Promise<void> {
    const ids = events.map(() => cql.TimeUuid.now());
    const outboxRows = events.map((event, index) => ({
      query: 'INSERT INTO outbox (bucket, id, payload) VALUES (?, ?, ?) USING TTL ?',
      params: [bucketOf(ids[index].getDate()), ids[index], JSON.stringify(event), ROW_TTL_SECONDS],
    }));
    const batch = [...statements, ...outboxRows];
    const batchOptions = {
      prepare: true,
      logged: true,
      // One write time for every try: a try that timed out may still land (its batch log replays it), and a later try
      // with a later time of its own would undo whatever came in between (the tweet's deletion, say).
      timestamp: options.timestampMicros ?? nextWriteTime(this.cassandra),
    };
    // Until the cluster convicts a node that died, every logged batch times out; the same batch again lands the same way.
    const givingUpAt = Date.now() + BATCH_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.cassandra.batch(batch, batchOptions);
        break;
      } catch (error) {
        if (!batchTimedOut(error) || Date.now() > givingUpAt) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 2_000)));
      }
    }
    if (ids.length > 0) this.committed(ids[0]);
  }
}

export interface OutboxRelayOptions {
  /** How often to look for events written by other replicas. Defaults to 250 ms. */
  pollIntervalMs?: number;
  /** How long the relay lease lasts without renewal. Defaults to 10 s. */
  leaseSeconds?: number;
  /** How far back the sweep for late rows looks. Defaults to 10 minutes. */
  sweepWindowMs?: number;
  /** How often the sweep for late rows runs. Defaults to 30 s. */
  sweepIntervalMs?: number;
}

/** The lease was lost (another replica relays now): stop publishing at once. */
class LeaseLost extends Error {}

/**
 * Publishes outbox rows in id order. One replica at a time holds the lease (a lightweight transaction), so events go
 * out in order; if it dies, another takes over when the lease expires. The lease is fenced: it is renewed while a
 * backlog drains, before any publish once a third of it has passed, and a relay that cannot renew it stops before
 * publishing anything more, so two relays never publish side by side. A publish that fails is retried from the same
 * row; each row is marked published once confirmed, so re-reads never send it twice.
 *
 * The checkpoint trails the clock by a margin; a row that becomes visible even later (a slow or replayed batch, a
 * paused writer, a writer whose clock is behind) is found by a sweep of the last `sweepWindowMs`, relayed and logged.
 */
export class OutboxRelay {
  private readonly owner = randomUUID();
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly sweepWindowMs: number;
  private readonly sweepIntervalMs: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private leaseRenewedAt = 0;
  private checkpoint: TimeUuid | undefined;
  private checkpointSavedAt = 0;
  /**
   * The newest row this relay has read while holding the lease, the first row committed here since the last pass
   * began, and when the relay last read the margin again (drain()).
   */
  private newestRead: TimeUuid | undefined;
  private committedFrom: TimeUuid | undefined;
  private marginReadAt = 0;
  private sweptAt = 0;
  /**
   * Rows the broker confirmed whose mark did not get written: marked, not sent again, when next read. At most one per
   * failed pass (a failure ends the pass, and the next pass reads that row again first).
   */
  private readonly confirmedUnmarked = new Set<string>();

  constructor(
    private readonly cassandra: CassandraClient,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.leaseMs = (options.leaseSeconds ?? 10) * 1000;
    this.sweepWindowMs = options.sweepWindowMs ?? 10 * 60_000;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 30_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something was just committed (from `firstId` on, when known): look now rather than at the next poll. */
  nudge = (firstId?: TimeUuid): void => {
    if (firstId) this.committedFrom = this.committedFrom ? earliest(this.committedFrom, firstId) : firstId;
    this.nudged = true;
    this.wake?.();
  };

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.leaseRenewedAt > 0) {
      await this.cassandra
        .execute('DELETE FROM outbox_lease WHERE name = ? IF owner = ?', ['relay', this.owner], LIGHTWEIGHT_TRANSACTION)
        .catch(() => undefined);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      this.nudged = false;
      try {
        if (await this.holdLease()) await this.drain();
        failures = 0;
      } catch (error) {
        if (error instanceof LeaseLost) {
          this.logger.warn('outbox relay lost its lease; stopped publishing');
          this.letGo();
        } else {
          failures++;
          // The broker or Cassandra is away: keep the rows, back off, try again.
          if (failures === 1 || failures % 20 === 0)
            this.logger.warn('outbox relay could not publish; will retry', { error, failures });
        }
      }
      if (!this.nudged && this.running)
        await this.sleep(failures ? Math.min(this.pollIntervalMs * 2 ** failures, 5_000) : this.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /** Takes the lease if it is free, or renews it when a third of it has passed; false when another replica holds it. */
  private async holdLease(): Promise<boolean> {
    const now = Date.now();
    if (this.leaseRenewedAt > 0 && now - this.leaseRenewedAt < this.leaseMs / 3) return true;
    const leaseSeconds = Math.ceil(this.leaseMs / 1000);
    const renewed =
      this.leaseRenewedAt > 0
        ? await this.cassandra.execute(
            'UPDATE outbox_lease USING TTL ? SET owner = ? WHERE name = ? IF owner = ?',
            [leaseSeconds, this.owner, 'relay', this.owner],
            LIGHTWEIGHT_TRANSACTION,
          )
        : await this.cassandra.execute(
            'INSERT INTO outbox_lease (name, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?',
            ['relay', this.owner, leaseSeconds],
            LIGHTWEIGHT_TRANSACTION,
          );
    if (renewed.wasApplied()) {
      this.leaseRenewedAt = now;
      return true;
    }
    if (this.leaseRenewedAt > 0) throw new LeaseLost();
    return false;
  }

  /** Forgets the lease and the checkpoint (another replica relays; re-read its checkpoint when taking over). */
  private letGo() {
    this.leaseRenewedAt = 0;
    this.checkpoint = undefined;
    this.newestRead = undefined;
    this.confirmedUnmarked.clear();
  }

  /** Before every publish: the lease must still be ours, renewed in time, or nothing more is published. */
  private async fence(): Promise<void> {
    if (Date.now() - this.leaseRenewedAt >= this.leaseMs || !(await this.holdLease())) throw new LeaseLost();
  }

  /**
   * One pass. Rows behind the checkpoint's margin (where a row may turn up late) are read again once per poll
   * interval, by id and mark, a payload read only for a row not yet published. A pass sooner than that (nudged by a
   * commit) reads on from the newest row this relay has read, or from the first row committed here since the last
   * pass if that is older (commits finish out of id order). Re-reading the margin, payloads and all, on every commit's
   * pass made a pass's cost grow with the write rate, and the passes' with its square.
   */
  private async drain(): Promise<void> {
    const checkpoint = this.checkpoint ?? (await this.loadCheckpoint());
    const scanStartedAt = new Date();
    const committedFrom = this.committedFrom;
    this.committedFrom = undefined;
    const whole = this.newestRead === undefined || scanStartedAt.getTime() - this.marginReadAt >= this.pollIntervalMs;
    if (whole) {
      this.newestRead = (await this.relayAfter(checkpoint, scanStartedAt, 'marks')) ?? this.newestRead;
      this.marginReadAt = scanStartedAt.getTime();
      await this.advanceCheckpoint(checkpoint, new Date(scanStartedAt.getTime() - CLOCK_SKEW_MARGIN_MS));
      if (Date.now() - this.sweptAt >= this.sweepIntervalMs) await this.sweepLateRows();
      return;
    }
    let from = this.newestRead!;
    if (committedFrom) from = earliest(from, cql.TimeUuid.min(committedFrom.getDate(), 0));
    // Never behind the checkpoint: everything before it has been read (after a quiet spell, hours of empty buckets).
    if (before(from, checkpoint)) from = checkpoint;
    const newest = await this.relayAfter(from, scanStartedAt, 'payloads');
    if (newest && before(this.newestRead!, newest)) this.newestRead = newest;
  }

  /**
   * Publishes the unpublished rows after `from`, up to now, in id order; returns the last row read. `marks`: reads ids
   * and marks, and the payload of a row only when it is unpublished.
   */
  private async relayAfter(from: TimeUuid, scanStartedAt: Date, read: 'marks' | 'payloads'): Promise<TimeUuid | undefined> {
    const query =
      read === 'marks'
        ? 'SELECT id, published FROM outbox WHERE bucket = ? AND id > ? LIMIT ?'
        : 'SELECT id, payload, published FROM outbox WHERE bucket = ? AND id > ? LIMIT ?';
    let after = from;
    let newest: TimeUuid | undefined;
    for (let bucket = bucketOf(from.getDate()); bucket <= bucketOf(scanStartedAt); bucket++) {
      for (;;) {
        const rows = (await this.cassandra.execute(query, [bucket, after, PAGE_SIZE])).rows;
        // A whole pass reads marks only: the payloads of the rows not yet published are read together, after.
        const fetched =
          read === 'marks'
            ? await this.payloadsOf(
                bucket,
                rows.filter((row) => !row.get('published')).map((row) => row.get('id')),
              )
            : undefined;
        for (const row of rows) {
          if (!row.get('published')) {
            const payload: string | null | undefined = fetched ? fetched.get(row.get('id').toString()) : row.get('payload');
            if (payload) await this.publish(bucket, row.get('id'), payload);
          }
          after = newest = row.get('id');
        }
        if (rows.length < PAGE_SIZE) break;
      }
      after = bucket < bucketOf(scanStartedAt) ? cql.TimeUuid.min(new Date((bucket + 1) * BUCKET_MS), 0) : after;
    }
    return newest;
  }

  /** The rows' payloads, by id, 100 to a query (a backlog after an outage is read a page at a time); expired ones absent. */
  private async payloadsOf(bucket: number, ids: readonly TimeUuid[]): Promise<Map<string, string>> {
    const payloads = new Map<string, string>();
    for (let start = 0; start < ids.length; start += 100) {
      const chunk = ids.slice(start, start + 100);
      const result = await this.cassandra.execute('SELECT id, payload FROM outbox WHERE bucket = ? AND id IN ?', [bucket, chunk]);
      for (const row of result.rows) payloads.set(row.get('id').toString(), row.get('payload') as string);
    }
    return payloads;
  }

  private async publish(bucket: number, id: TimeUuid, payload: string): Promise<void> {
    const event = JSON.parse(payload) as DomainEvent;
    // Part of the trace of the request that wrote the event.
    await inSpan(`outbox relay ${event.type}`, { kind: SpanKind.PRODUCER, parent: contextFrom(event.traceContext) }, async () => {
      const key = id.toString();
      if (!this.confirmedUnmarked.has(key)) {
        await this.fence();
        await this.bus.publish(event);
        // Cassandra may fail the mark (the link drops between the confirm and the update): the retry only marks.
        this.confirmedUnmarked.add(key);
      }
      // With the row's TTL: a mark without one would keep the row (and its partition) alive after the rest expired.
      await this.cassandra.execute('UPDATE outbox USING TTL ? SET published = true WHERE bucket = ? AND id = ?', [
        ROW_TTL_SECONDS,
        bucket,
        id,
      ]);
      this.confirmedUnmarked.delete(key);
    });
  }

  /**
   * Rows behind the checkpoint that were never published: written later than the margin allowed for. Reads only ids
   * and marks first; a late row's payload is read when it is found.
   */
  private async sweepLateRows(): Promise<void> {
    const checkpoint = this.checkpoint!;
    const from = new Date(Date.now() - this.sweepWindowMs);
    let late = 0;
    for (let bucket = bucketOf(from); bucket <= bucketOf(checkpoint.getDate()); bucket++) {
      const rows = await this.cassandra.execute(
        'SELECT id, published FROM outbox WHERE bucket = ? AND id < ?',
        [bucket, checkpoint],
        {
          fetchSize: 5_000,
        },
      );
      for await (const row of rows) {
        if (row.get('published')) continue;
        const payload = (await this.payloadsOf(bucket, [row.get('id')])).get(row.get('id').toString());
        if (payload === undefined) continue;
        await this.publish(bucket, row.get('id'), payload);
        late++;
      }
    }
    this.sweptAt = Date.now();
    if (late > 0) this.logger.warn('outbox relay found and published late rows', { late });
  }

  private async loadCheckpoint() {
    const row = (await this.cassandra.execute('SELECT last_id FROM outbox_checkpoint WHERE name = ?', ['relay'])).first();
    // A keyspace's migration writes the first checkpoint; this fallback only covers a checkpoint lost by hand.
    this.checkpoint = row?.get('last_id') ?? cql.TimeUuid.min(new Date(Date.now() - 3600_000), 0);
    return this.checkpoint!;
  }

  /** Everything written before `safeBefore` has been seen and published, so the checkpoint may move up to it. */
  private async advanceCheckpoint(previous: TimeUuid, safeBefore: Date): Promise<void> {
    if (safeBefore.getTime() <= previous.getDate().getTime()) return;
    this.checkpoint = cql.TimeUuid.max(safeBefore, 9999);
    if (Date.now() - this.checkpointSavedAt > 1_000) {
      await this.cassandra.execute('UPDATE outbox_checkpoint SET last_id = ? WHERE name = ?', [this.checkpoint, 'relay']);
      this.checkpointSavedAt = Date.now();
    }
  }
}

/** Rows read at most when measuring the backlog; a bigger backlog is reported as at least this many. */
const BACKLOG_COUNT_CAP = 10_000;

export interface OutboxBacklog {
  /** Events written and not yet published (up to BACKLOG_COUNT_CAP). */
  pending: number;
  /** Age of the oldest of them; 0 when there are none. */
  oldestAgeSeconds: number;
}

/**
 * What the relay has not published yet: the rows after its checkpoint without their `published` mark. Reads ids and
 * marks only, from the checkpoint's bucket to now (the checkpoint trails the clock by seconds while the relay works).
 */
export async function outboxBacklog(cassandra: CassandraClient): Promise<OutboxBacklog> {
  const checkpointRow = (await cassandra.execute('SELECT last_id FROM outbox_checkpoint WHERE name = ?', ['relay'])).first();
  const checkpoint: TimeUuid = checkpointRow?.get('last_id') ?? cql.TimeUuid.min(new Date(Date.now() - 3600_000), 0);
  const now = Date.now();
  let pending = 0;
  let oldest: Date | undefined;
  for (let bucket = bucketOf(checkpoint.getDate()); bucket <= bucketOf(new Date(now)) && pending < BACKLOG_COUNT_CAP; bucket++) {
    const rows = await cassandra.execute(
      'SELECT id, published FROM outbox WHERE bucket = ? AND id > ? LIMIT ?',
      [bucket, checkpoint, BACKLOG_COUNT_CAP],
      { fetchSize: 1_000 },
    );
    for await (const row of rows) {
      if (row.get('published')) continue;
      oldest ??= (row.get('id') as TimeUuid).getDate();
      if (++pending >= BACKLOG_COUNT_CAP) break;
    }
  }
  return { pending, oldestAgeSeconds: oldest ? Math.max(0, (now - oldest.getTime()) / 1000) : 0 };
}

/**
 * The write time the driver would give the session's next statement: from the session's own generator (microseconds,
 * increasing across every statement it sends), so a commit's time stays in order with the session's other writes.
 */
function nextWriteTime(session: CassandraClient) {
  // The driver's typings leave out the options it keeps on the session.
  const { options } = session as unknown as { options: Required<cassandra.ClientOptions> };
  return options.policies.timestampGeneration!.next(session);
}
