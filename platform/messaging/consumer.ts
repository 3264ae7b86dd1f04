import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';

import { isInfrastructureFailure } from '../infrastructure-errors.js';
import type { Logger } from '../logging.js';
import {
  eventHandleDuration,
  eventsConsumed,
  eventsDeadLettered,
  eventsRetried,
  secondsSince,
} from '../observability/metrics.js';
import { contextFrom, inSpan, SpanKind } from '../observability/tracing.js';
import { Acknowledgements } from './acknowledgements.js';
import { type EventEnvelope, lineageOf } from './events.js';
import { DEFAULT_DELIVERY_LIMIT, type QueueOptions, type Topology } from './topology.js';

/** A subscription to a queue, as the bus holds it (events of any contract). */
export interface Subscription extends QueueOptions {
  /** Messages the broker sends ahead of the one being handled. Defaults to 32. */
  prefetch?: number;
  /**
   * Handle messages one at a time, in queue order (the default). With false, every message prefetched is handled at
   * once (so `prefetch` is how many run side by side): for work items whose order does not matter.
   */
  ordered?: boolean;
  handle: (event: EventEnvelope) => Promise<void>;
}

const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 5_000;
/** Longest wait between tries while a dependency is away (the wait itself is unbounded). */
const INFRASTRUCTURE_MAX_DELAY_MS = 5_000;

/** A consumer of one queue: its channel, its tag, and the deliveries it is handling. */
interface Consumer {
  channel: Channel;
  tag: string;
  /** The last of its deliveries in order: an ordered consumer's next one waits for it. */
  tail: Promise<void>;
  /** Deliveries being handled now (at most its prefetch), for stop() to wait for. */
  inFlight: Set<Promise<void>>;
  /** False once its channel has closed (the broker link dropped, or the bus closed). */
  open: boolean;
  acks: Acknowledgements;
}

/**
 * The consumers of this process's queues. An ordered subscription handles its messages one at a time in delivery
 * order, so the queue's order holds (a follow is applied before the tweet posted after it); an unordered one handles
 * every message prefetched at once. Either way a message is acknowledged only once handled, retried in place while it
 * fails, and dead-lettered only after `deliveryLimit` failures of its own.
 */
export class QueueConsumers {
  private readonly consumers = new Set<Consumer>();
  /** Set by stop(): consumers stop waiting for dependencies. */
  private stopped = false;

  constructor(
    private readonly topology: Topology,
    private readonly logger: Logger,
  ) {}

  async start(model: ChannelModel, options: Subscription): Promise<void> {
    const channel = await model.createChannel();
    await this.topology.declareQueue(channel, options);
    await channel.prefetch(options.prefetch ?? 32);

    const acks = new Acknowledgements(channel, (error) =>
      this.logger.warn('could not settle a delivery; it will be redelivered', { error }),
    );
    const consumer: Consumer = { channel, tag: '', tail: Promise.resolve(), inFlight: new Set(), open: true, acks };
    channel.once('close', () => {
      consumer.open = false;
      this.consumers.delete(consumer);
    });
    const { consumerTag } = await channel.consume(options.queue, (message) => {
      if (!message) return; // the broker cancelled the consumer; recovery re-creates it
      acks.received(message);
      // Each delivery is tracked on its own: one held for a long time keeps nothing else alive.
      const delivery =
        options.ordered === false
          ? this.deliver(consumer, message, options)
          : (consumer.tail = consumer.tail.then(() => this.deliver(consumer, message, options)));
      consumer.inFlight.add(delivery);
      const done = () => void consumer.inFlight.delete(delivery);
      delivery.then(done, done);
    });
    consumer.tag = consumerTag;
    this.consumers.add(consumer);
  }

  /**
   * Takes no more messages, lets the ones being handled finish and be acknowledged (for up to `graceMs`), then closes
   * the channels: what was prefetched but not started returns to the queue for the next consumer, handled by no one
   * twice.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopped = true;
    await Promise.all(
      [...this.consumers].map(async (consumer) => {
        await consumer.channel.cancel(consumer.tag).catch(() => undefined);
        await Promise.race([Promise.allSettled(consumer.inFlight), new Promise((resolve) => setTimeout(resolve, graceMs))]);
        // Closing the channel itself first makes the broker take its acks before it returns the rest to the queue.
        consumer.acks.flush();
        await consumer.channel.close().catch(() => undefined);
      }),
    );
  }

  /**
   * Handles one message, retrying it in place so the queue's order holds (handing it back to the broker would let the
   * messages prefetched behind it go first). A dependency that is away (Cassandra, RabbitMQ itself) is waited out with
   * the message held, with a capped backoff for as long as it takes, so an outage never counts against the delivery
   * limit; only a failure of the message's own, `deliveryLimit` times, dead-letters it.
   */
  private async deliver(consumer: Consumer, message: ConsumeMessage, options: Subscription): Promise<void> {
    // The consumer itself, not a copy: `open` turns false when its channel closes, mid-delivery.
    const { acks } = consumer;
    // Stopping, or its channel closed while it waited behind another (the broker link dropped): leave it unsettled, so
    // the broker gives it, in queue order, to the next consumer; handled here too, it would be handled twice.
    if (this.stopped || !consumer.open) return;
    const event = envelopeIn(message);
    if (!event) {
      this.logger.error('unreadable message dead-lettered', { queue: options.queue, messageId: message.properties.messageId });
      eventsDeadLettered.inc({ queue: options.queue });
      return acks.nack(message);
    }
    // The trace continues from whoever published it (its headers), or from the request that caused the event.
    const parent = contextFrom(message.properties.headers?.traceparent ? message.properties.headers : event.traceContext);
    const startedAt = process.hrtime.bigint();
    const deliveryLimit = options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT;
    // Failures of its own so far: earlier deliveries (a consumer that died or lost its channel handed it back) count.
    let failures = Number(message.properties.headers?.['x-delivery-count'] ?? 0);
    for (let waits = 0; ;) {
      try {
        await inSpan(
          `consume ${options.queue} ${event.type}`,
          {
            kind: SpanKind.CONSUMER,
            parent,
            attributes: { 'messaging.destination.name': options.queue, 'twtr.event.id': event.id },
          },
          () => options.handle(event),
        );
        acks.ack(message);
        eventsConsumed.inc({ queue: options.queue, type: event.type });
        eventHandleDuration.observe({ queue: options.queue }, secondsSince(startedAt));
        if (waits > 0)
          this.logger.info('event handled after its dependency came back', { queue: options.queue, ...lineageOf(event), waits });
        return;
      } catch (error) {
        // The channel is gone (the broker link dropped) or the process is stopping: leave the message unsettled; the
        // broker gives it to the next consumer.
        if (!consumer.open || this.stopped) return;
        let delayMs: number;
        if (isInfrastructureFailure(error)) {
          if (waits === 0 || waits % 20 === 0) {
            this.logger.warn('a dependency is unavailable; holding the event until it is back', {
              queue: options.queue,
              ...lineageOf(event),
              waits,
              error: (error as Error).message,
            });
          }
          delayMs = Math.min(RETRY_BASE_DELAY_MS * 2 ** waits, INFRASTRUCTURE_MAX_DELAY_MS);
          waits++;
        } else {
          failures++;
          const deadLettered = failures >= deliveryLimit;
          this.logger.warn(
            deadLettered ? 'event handling failed at its delivery limit; dead-lettered' : 'event handling failed; will retry',
            { queue: options.queue, ...lineageOf(event), deliveries: failures, error },
          );
          if (deadLettered) {
            eventsDeadLettered.inc({ queue: options.queue });
            return acks.nack(message);
          }
          eventsRetried.inc({ queue: options.queue });
          delayMs = Math.min(RETRY_BASE_DELAY_MS * 2 ** failures, RETRY_MAX_DELAY_MS);
        }
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (!consumer.open || this.stopped) return;
      }
    }
  }
}

/**
 * The event a message holds; undefined for one that is not JSON, or JSON but no event (`null`, a number): handled, it
 * would throw outside the handler's retries, and hold an ordered queue behind it for good.
 */
function envelopeIn(message: ConsumeMessage): EventEnvelope | undefined {
  try {
    const parsed: unknown = JSON.parse(message.content.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && typeof (parsed as EventEnvelope).type === 'string'
      ? (parsed as EventEnvelope)
      : undefined;
  } catch {
    return undefined;
  }
}
