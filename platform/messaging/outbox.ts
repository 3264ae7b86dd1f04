import { randomUUID } from 'node:crypto';

import { type CassandraClient, cql, type Statement } from '../cassandra/client.js';
import type { Logger } from '../logging.js';
import type { EventBus } from './bus.js';
import type { DomainEvent } from './events.js';

const BUCKET_MS = 60_000;
const ROW_TTL_SECONDS = 7 * 24 * 3600;
const CLOCK_SKEW_MARGIN_MS = 2_000;
const PAGE_SIZE = 500;

const bucketOf = (date: Date) => Math.floor(date.getTime() / BUCKET_MS);

/**
 * Transactional outbox: a service writes its domain change and the events it causes in one logged batch, and a relay
 * publishes them to RabbitMQ afterwards. An acknowledged write therefore always reaches the bus, even if the broker was
 * down when it happened. Tables: see migrations/<keyspace>/*_outbox.cql (the same in every publishing keyspace).
 *
 * Rows live in one-minute buckets, ordered by a timeuuid, and expire by TTL: the relay never deletes (no tombstones).
 * It keeps a checkpoint ("everything up to here is published") that trails the clock by a margin, so a row written
 * late by a writer whose clock is a little behind is still found; rows inside the margin are re-read but not re-sent.
 */
export class Outbox {
  constructor(
    private readonly cassandra: CassandraClient,
    /** Called after each commit, to wake the relay. */
    private readonly committed: () => void = () => {},
  ) {}

  /**
   * Applies the statements and records the events atomically. `timestampMicros` sets the write time of every
   * statement, so a retried or reordered write carrying the same version lands the same way.
   */
  async commit(statements: Statement[], events: DomainEvent[], options: { timestampMicros?: number } = {}): Promise<void> {
    const outboxRows = events.map((event) => {
      const id = cql.TimeUuid.now();
      return {
        query: 'INSERT INTO outbox (bucket, id, payload) VALUES (?, ?, ?) USING TTL ?',
        params: [bucketOf(id.getDate()), id, JSON.stringify(event), ROW_TTL_SECONDS],
      };
    });
    await this.cassandra.batch([...statements, ...outboxRows], {
      prepare: true,
      logged: true,
      ...(options.timestampMicros ? { timestamp: options.timestampMicros } : {}),
    });
    this.committed();
  }
}

export interface OutboxRelayOptions {
  /** How often to look for events written by other replicas. Defaults to 250 ms. */
  pollIntervalMs?: number;
  /** How long the relay lease lasts without renewal. Defaults to 10 s. */
  leaseSeconds?: number;
}

/**
 * Publishes outbox rows in id order. One replica at a time holds the lease (a lightweight transaction), so events go
 * out in order; if it dies, another takes over when the lease expires. A publish that fails is retried from the same
 * row; consumers dedupe, so the rare repeat after a takeover is harmless.
 */
export class OutboxRelay {
  private readonly owner = randomUUID();
  private readonly pollIntervalMs: number;
  private readonly leaseSeconds: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nudged = false;
  private leaseRenewedAt = 0;
  private checkpoint: InstanceType<typeof cql.TimeUuid> | undefined;
  private checkpointSavedAt = 0;
  /** Ids published but not yet behind the checkpoint, so re-reads inside the margin are not re-sent. */
  private readonly recentlyPublished = new Set<string>();

  constructor(
    private readonly cassandra: CassandraClient,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    options: OutboxRelayOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.leaseSeconds = options.leaseSeconds ?? 10;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Something was just committed: look now rather than at the next poll. */
  nudge = (): void => {
    this.nudged = true;
    this.wake?.();
  };

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.leaseRenewedAt > 0) {
      await this.cassandra
        .execute('DELETE FROM outbox_lease WHERE name = ? IF owner = ?', ['relay', this.owner])
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
        failures++;
        // The broker or Cassandra is away: keep the rows, back off, try again.
        if (failures === 1 || failures % 20 === 0)
          this.logger.warn('outbox relay could not publish; will retry', { error, failures });
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

  private async holdLease(): Promise<boolean> {
    const now = Date.now();
    if (this.leaseRenewedAt > 0 && now - this.leaseRenewedAt < (this.leaseSeconds * 1000) / 3) return true;
    const renewed =
      this.leaseRenewedAt > 0
        ? await this.cassandra.execute('UPDATE outbox_lease USING TTL ? SET owner = ? WHERE name = ? IF owner = ?', [
            this.leaseSeconds,
            this.owner,
            'relay',
            this.owner,
          ])
        : await this.cassandra.execute('INSERT INTO outbox_lease (name, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?', [
            'relay',
            this.owner,
            this.leaseSeconds,
          ]);
    if (renewed.wasApplied()) {
      this.leaseRenewedAt = now;
      return true;
    }
    if (this.leaseRenewedAt > 0) this.logger.warn('outbox relay lost its lease');
    this.leaseRenewedAt = 0;
    this.checkpoint = undefined; // another replica is relaying; re-read its checkpoint if this one takes over
    return false;
  }

  private async drain(): Promise<void> {
    const checkpoint = this.checkpoint ?? (await this.loadCheckpoint());
    const scanStartedAt = new Date();
    let after = checkpoint;
    for (let bucket = bucketOf(checkpoint.getDate()); bucket <= bucketOf(scanStartedAt); bucket++) {
      for (;;) {
        const rows = (
          await this.cassandra.execute('SELECT id, payload FROM outbox WHERE bucket = ? AND id > ? LIMIT ?', [
            bucket,
            after,
            PAGE_SIZE,
          ])
        ).rows;
        for (const row of rows) {
          const id = row.get('id') as InstanceType<typeof cql.TimeUuid>;
          if (!this.recentlyPublished.has(id.toString())) {
            await this.bus.publish(JSON.parse(row.get('payload')) as DomainEvent);
            this.recentlyPublished.add(id.toString());
          }
          after = id;
        }
        if (rows.length < PAGE_SIZE) break;
      }
      after = bucket < bucketOf(scanStartedAt) ? cql.TimeUuid.min(new Date((bucket + 1) * BUCKET_MS), 0) : after;
    }
    await this.advanceCheckpoint(checkpoint, new Date(scanStartedAt.getTime() - CLOCK_SKEW_MARGIN_MS));
  }

  private async loadCheckpoint() {
    const row = (await this.cassandra.execute('SELECT last_id FROM outbox_checkpoint WHERE name = ?', ['relay'])).first();
    // A keyspace's migration writes the first checkpoint; this fallback only covers a checkpoint lost by hand.
    this.checkpoint = row?.get('last_id') ?? cql.TimeUuid.min(new Date(Date.now() - 3600_000), 0);
    return this.checkpoint!;
  }

  /** Everything written before `safeBefore` has been seen and published, so the checkpoint may move up to it. */
  private async advanceCheckpoint(previous: InstanceType<typeof cql.TimeUuid>, safeBefore: Date): Promise<void> {
    if (safeBefore.getTime() <= previous.getDate().getTime()) return;
    this.checkpoint = cql.TimeUuid.max(safeBefore, 9999);
    for (const id of this.recentlyPublished) {
      if (cql.TimeUuid.fromString(id).getDate().getTime() < safeBefore.getTime()) this.recentlyPublished.delete(id);
    }
    if (Date.now() - this.checkpointSavedAt > 1_000) {
      await this.cassandra.execute('UPDATE outbox_checkpoint SET last_id = ? WHERE name = ?', [this.checkpoint, 'relay']);
      this.checkpointSavedAt = Date.now();
    }
  }
}
