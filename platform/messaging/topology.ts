import type { Channel, ChannelModel } from 'amqplib';

/** Failures of a message's own (outages do not count) before it is dead-lettered, unless its queue says otherwise. */
export const DEFAULT_DELIVERY_LIMIT = 5;

/** A durable queue of a consumer: which events it takes, and how. */
export interface QueueOptions {
  /** The consuming service's own durable queue, e.g. `feed` (within TWTR_NAMESPACE). */
  queue: string;
  /** Routing keys (event types) bound to the queue. */
  events: readonly string[];
  /** Failures of its own before a message is dead-lettered. Defaults to DEFAULT_DELIVERY_LIMIT. */
  deliveryLimit?: number;
  /**
   * Only one consumer across all replicas receives at a time (the others stand by and take over), so the queue's
   * order holds even with several replicas. Defaults to false (replicas share the work).
   */
  singleActiveConsumer?: boolean;
}

/**
 * The exchanges and queues events travel through: `<exchange>` (topic, durable events by type), `<exchange>.dlx`
 * (each queue's dead letters, into `<queue>.dead`) and `<exchange>.live` (live notifications, never stored). Every
 * declaration is idempotent, made again on every reconnect.
 */
export class Topology {
  readonly deadLetterExchange: string;
  readonly liveExchange: string;

  constructor(readonly exchange: string) {
    this.deadLetterExchange = `${exchange}.dlx`;
    this.liveExchange = `${exchange}.live`;
  }

  async declareExchanges(channel: Channel): Promise<void> {
    await channel.assertExchange(this.exchange, 'topic', { durable: true });
    await channel.assertExchange(this.deadLetterExchange, 'direct', { durable: true });
    await channel.assertExchange(this.liveExchange, 'topic', { durable: true });
  }

  /** A quorum queue with its dead letters, bound to its events. */
  async declareQueue(channel: Channel, options: QueueOptions): Promise<void> {
    await this.declareExchanges(channel);
    await channel.assertQueue(options.queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': this.deadLetterExchange,
        'x-dead-letter-routing-key': options.queue,
        'x-delivery-limit': options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
        ...(options.singleActiveConsumer ? { 'x-single-active-consumer': true } : {}),
      },
    });
    await channel.assertQueue(`${options.queue}.dead`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(`${options.queue}.dead`, this.deadLetterExchange, options.queue);
    for (const type of options.events) await channel.bindQueue(options.queue, this.exchange, type);
  }

  /** Declares a queue on a channel of its own: a declaration the broker refuses closes its channel. */
  async declareOnly(model: ChannelModel, options: QueueOptions): Promise<void> {
    const channel = await model.createChannel();
    try {
      await this.declareQueue(channel, options);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }
}
