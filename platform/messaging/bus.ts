import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options, RecoveringChannelModel, Replies } from 'amqplib';
import amqp from 'amqplib';

import type { Config } from '../config.js';
import { DependencyUnavailableError, isInfrastructureFailure } from '../infrastructure-errors.js';
import type { Logger } from '../logging.js';
import {
  eventHandleDuration,
  eventsConfirmed,
  eventsConsumed,
  eventsDeadLettered,
  eventsPublished,
  eventsPublishFailed,
  eventsRetried,
  queueConsumers,
  queueDepth,
  secondsSince,
  sharedFor,
} from '../observability/metrics.js';
import { contextFrom, currentTraceCarrier, inSpan, SpanKind } from '../observability/tracing.js';
import { rotatingBrokerAddress } from './brokers.js';
import { type DomainEvents, type EventEnvelope, type EventOf, lineageOf } from './events.js';

export interface SubscribeOptions<Events = DomainEvents, T extends keyof Events & string = keyof Events & string> {
  /** The consuming service's own durable queue, e.g. `feed`. */
  queue: string;
  /** Routing keys (event types) bound to the queue. */
  events: readonly T[];
  /** Messages the broker sends ahead of the one being handled. Defaults to 32. */
  prefetch?: number;
  /**
   * Handle messages one at a time, in queue order (the default). With false, every message prefetched is handled at
   * once (so `prefetch` is how many run side by side): for work items whose order does not matter.
   */
  ordered?: boolean;
  /** Failures of its own (outages do not count) before a message is dead-lettered. Defaults to 5. */
  deliveryLimit?: number;
  /**
   * Only one consumer across all replicas receives at a time (the others stand by and take over), so the queue's
   * order holds even with several replicas. Defaults to false (replicas share the work).
   */
  singleActiveConsumer?: boolean;
  /** Handles one event; a throw means "retry later" (up to deliveryLimit). Must be idempotent. */
  handle: (event: EventOf<Events, T>) => Promise<void>;
}

type AnySubscription = SubscribeOptions<Record<string, unknown>, string>;
type DeclaredQueue = Omit<AnySubscription, 'handle'>;

export interface EventBus {
  /** Resolves once the broker has confirmed the event is stored. */
  publish(event: EventEnvelope): Promise<void>;
  /** Events of the shared contract by default; a service's own work items with `Events`. */
  subscribe<Events = DomainEvents, T extends keyof Events & string = keyof Events & string>(
    options: SubscribeOptions<Events, T>,
  ): Promise<void>;
  /**
   * Declares a subscription's queue and bindings without consuming from it, so what is published for it waits there
   * for a process that does (a feed replica that publishes work items but leaves them to fan-out workers).
   */
  declare<Events = DomainEvents, T extends keyof Events & string = keyof Events & string>(
    options: Omit<SubscribeOptions<Events, T>, 'handle'>,
  ): Promise<void>;
  /**
   * Live notifications: broadcast to every process listening on `topic` right now, not stored (a process that is
   * not connected misses them). For pushing to connected clients, wherever their socket is.
   */
  publishLive(topic: string, payload: unknown): Promise<void>;
  subscribeLive(topic: string, handle: (payload: unknown) => void): Promise<void>;
  /** Whether a channel to the broker is open right now (for readiness). */
  connected(): boolean;
  close(): Promise<void>;
}

const DEAD_LETTER_EXCHANGE_SUFFIX = '.dlx';
const DEFAULT_DELIVERY_LIMIT = 5;
const RETRY_BASE_DELAY_MS = 50;
const RETRY_MAX_DELAY_MS = 5_000;
/** How long close() waits for the messages being handled to finish. */
const CLOSE_GRACE_MS = 10_000;

/** A consumer of one queue: its channel, its tag, and the deliveries it is handling. */
interface Consumer {
  channel: Channel;
  tag: string;
  /** Settles when every delivery taken so far has been handled. */
  handled: Promise<void>;
  /** False once its channel has closed (the broker link dropped, or the bus closed). */
  open: boolean;
}

/** Longest wait between tries while a dependency is away (the wait itself is unbounded). */
const INFRASTRUCTURE_MAX_DELAY_MS = 5_000;

/**
 * One connection per process, recovered automatically; topology and consumers are re-declared on every reconnect.
 * Handlers of one subscription run one at a time in delivery order, so per-queue ordering is kept
 * (a follow is applied before the tweet posted after it).
 */
export async function connectEventBus(
  config: Pick<Config, 'AMQP_URL' | 'AMQP_EXCHANGE'> & Partial<Pick<Config, 'TWTR_NAMESPACE'>>,
  logger: Logger,
): Promise<EventBus> {
  const exchange = config.AMQP_EXCHANGE;
  const deadLetterExchange = exchange + DEAD_LETTER_EXCHANGE_SUFFIX;
  const liveExchange = `${exchange}.live`;
  const subscriptions: AnySubscription[] = [];
  const declarations: DeclaredQueue[] = [];
  // Queue names live in the configured namespace (TWTR_NAMESPACE), like keyspaces.
  const namespaced = (queue: string) => `${config.TWTR_NAMESPACE ?? ''}${queue}`;
  const liveSubscriptions: { topic: string; handle: (payload: unknown) => void }[] = [];
  let publishChannel: ConfirmChannel | undefined;
  /** Set by close(): consumers stop waiting for dependencies. */
  let stopped = false;
  const consumers = new Set<Consumer>();
  let currentModel: ChannelModel | undefined;

  const declareExchanges = async (channel: Channel) => {
    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertExchange(deadLetterExchange, 'direct', { durable: true });
    await channel.assertExchange(liveExchange, 'topic', { durable: true });
  };

  // A queue of this process's own, gone when the process is: live notifications are only for who listens now.
  const startLiveConsumer = async (model: ChannelModel, subscription: { topic: string; handle: (payload: unknown) => void }) => {
    const channel = await model.createChannel();
    await declareExchanges(channel);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
    await channel.bindQueue(queue, liveExchange, subscription.topic);
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        void inSpan(
          `live ${subscription.topic}`,
          { kind: SpanKind.CONSUMER, parent: contextFrom(message.properties.headers) },
          async () => subscription.handle(JSON.parse(message.content.toString('utf8'))),
        ).catch((error: unknown) => logger.warn('live notification handler failed', { topic: subscription.topic, error }));
      },
      { noAck: true },
    );
  };

  const declareQueue = async (channel: Channel, options: DeclaredQueue) => {
    await declareExchanges(channel);
    await channel.assertQueue(options.queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-dead-letter-exchange': deadLetterExchange,
        'x-dead-letter-routing-key': options.queue,
        'x-delivery-limit': options.deliveryLimit ?? DEFAULT_DELIVERY_LIMIT,
        ...(options.singleActiveConsumer ? { 'x-single-active-consumer': true } : {}),
      },
    });
    await channel.assertQueue(`${options.queue}.dead`, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await channel.bindQueue(`${options.queue}.dead`, deadLetterExchange, options.queue);
    for (const type of options.events) await channel.bindQueue(options.queue, exchange, type);
  };

  // On a channel of its own: a declaration the broker refuses closes its channel.
  const declareOnly = async (model: ChannelModel, options: DeclaredQueue) => {
    const channel = await model.createChannel();
    try {
      await declareQueue(channel, options);
    } finally {
      await channel.close().catch(() => undefined);
    }
  };

  const startConsumer = async (model: ChannelModel, options: AnySubscription) => {
    const channel = await model.createChannel();
    await declareQueue(channel, options);
    await channel.prefetch(options.prefetch ?? 32);

    const consumer: Consumer = { channel, tag: '', handled: Promise.resolve(), open: true };
    channel.once('close', () => {
      consumer.open = false;
      consumers.delete(consumer);
    });
    const { consumerTag } = await channel.consume(options.queue, (message) => {
      if (!message) return; // the broker cancelled the consumer; recovery re-creates it
      consumer.handled =
        options.ordered === false
          ? Promise.all([consumer.handled, deliver(consumer, message, options)]).then(() => undefined)
          : consumer.handled.then(() => deliver(consumer, message, options));
    });
    consumer.tag = consumerTag;
    consumers.add(consumer);
  };

  /**
   * Handles one message, retrying it in place so the queue's order holds (handing it back to the broker would let the
   * messages prefetched behind it go first). A dependency that is away (Cassandra, RabbitMQ itself) is waited out with
   * the message held, with a capped backoff for as long as it takes, so an outage never counts against the delivery
   * limit; only a failure of the message's own, `deliveryLimit` times, dead-letters it.
   */
  const deliver = async (consumer: Consumer, message: ConsumeMessage, options: AnySubscription) => {
    // The consumer itself, not a copy: `open` turns false when its channel closes, mid-delivery.
    const { channel } = consumer;
    // Stopping: leave it unsettled, so it goes back to the queue when the channel closes.
    if (stopped) return;
    let event: EventEnvelope;
    try {
      event = JSON.parse(message.content.toString('utf8')) as EventEnvelope;
    } catch {
      logger.error('unreadable message dead-lettered', { queue: options.queue, messageId: message.properties.messageId });
      eventsDeadLettered.inc({ queue: options.queue });
      return settle(() => channel.nack(message, false, false));
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
        settle(() => channel.ack(message));
        eventsConsumed.inc({ queue: options.queue, type: event.type });
        eventHandleDuration.observe({ queue: options.queue }, secondsSince(startedAt));
        if (waits > 0)
          logger.info('event handled after its dependency came back', { queue: options.queue, ...lineageOf(event), waits });
        return;
      } catch (error) {
        // The channel is gone (the broker link dropped) or the process is stopping: leave the message unsettled; the
        // broker gives it to the next consumer.
        if (!consumer.open || stopped) return;
        let delayMs: number;
        if (isInfrastructureFailure(error)) {
          if (waits === 0 || waits % 20 === 0) {
            logger.warn('a dependency is unavailable; holding the event until it is back', {
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
          logger.warn(
            deadLettered ? 'event handling failed at its delivery limit; dead-lettered' : 'event handling failed; will retry',
            { queue: options.queue, ...lineageOf(event), deliveries: failures, error },
          );
          if (deadLettered) {
            eventsDeadLettered.inc({ queue: options.queue });
            return settle(() => channel.nack(message, false, false));
          }
          eventsRetried.inc({ queue: options.queue });
          delayMs = Math.min(RETRY_BASE_DELAY_MS * 2 ** failures, RETRY_MAX_DELAY_MS);
        }
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        if (!consumer.open || stopped) return;
      }
    }
  };

  // Acking on a channel that closed meanwhile throws; the broker redelivers the message and handlers are idempotent.
  const settle = (action: () => void) => {
    try {
      action();
    } catch (error) {
      logger.warn('could not settle a delivery; it will be redelivered', { error });
    }
  };

  // Every node AMQP_URL names: a lost node's connection comes back on the next one, with its consumers re-declared.
  const broker = rotatingBrokerAddress(config.AMQP_URL);
  const connection: RecoveringChannelModel = await amqp.connect(broker.address, {
    recovery: {
      calculateDelay: broker.calculateDelay,
      initialMaxRetries: 10,
      setup: async (model: ChannelModel) => {
        currentModel = model;
        const channel = await model.createConfirmChannel();
        await declareExchanges(channel);
        publishChannel = channel;
        for (const declaration of declarations) await declareOnly(model, declaration);
        for (const subscription of subscriptions) await startConsumer(model, subscription);
        for (const subscription of liveSubscriptions) await startLiveConsumer(model, subscription);
      },
    },
  });
  connection.on('disconnect', (error: Error) => {
    publishChannel = undefined;
    currentModel = undefined;
    logger.warn('lost the RabbitMQ connection; reconnecting', { error: error?.message });
  });
  connection.on('connect', () => logger.info('connected to RabbitMQ'));
  connection.on('error', (error: Error) => logger.warn('RabbitMQ connection error', { error: error.message }));

  /**
   * A nack says the broker could not take a message. A channel can go on nacking every message to a quorum queue after
   * its leader died and another was elected (seen on RabbitMQ 3.10: a channel opened on a surviving node a moment after
   * the leader's node was SIGKILLed, before the election, nacked for minutes), so after a nack the next publish goes on
   * a new channel; the old one is closed, failing what it still holds, which its publishers send again.
   */
  let renewing = false;
  const renewPublishChannel = async (stale: ConfirmChannel) => {
    const model = currentModel;
    if (renewing || publishChannel !== stale || !model) return;
    renewing = true;
    try {
      const fresh = await model.createConfirmChannel();
      if (publishChannel === stale) publishChannel = fresh;
      else await fresh.close();
      await stale.close();
    } catch (error) {
      // The connection is going too: its recovery brings a new channel.
      logger.warn('could not renew the publish channel', { error: (error as Error).message });
    } finally {
      renewing = false;
    }
  };

  /** JSON on the confirm channel, with the current trace context; resolves once the broker has confirmed it. */
  const publishConfirmed = (target: string, routingKey: string, payload: unknown, options: Options.Publish = {}) =>
    new Promise<void>((resolve, reject) => {
      const channel = publishChannel;
      if (!channel) return reject(new DependencyUnavailableError('not connected to RabbitMQ'));
      channel.publish(
        target,
        routingKey,
        Buffer.from(JSON.stringify(payload)),
        { contentType: 'application/json', headers: currentTraceCarrier(), ...options },
        (error) => {
          if (!error) return resolve();
          void renewPublishChannel(channel);
          reject(error);
        },
      );
    });

  /**
   * Ready messages and consumers of each queue this process consumes, and of its dead letters, as the broker says.
   * On a channel of its own (checking a queue that is missing closes the channel); one answer serves a scrape.
   */
  const queueStatus = sharedFor(1_000, async () => {
    // Declared queues too: a queue nobody consumes must still show, with its backlog and its 0 consumers.
    const queues = [...subscriptions, ...declarations];
    if (!currentModel || queues.length === 0) return [];
    const channel = await currentModel.createChannel();
    channel.on('error', () => undefined);
    try {
      const answers: Replies.AssertQueue[] = [];
      for (const { queue } of queues) {
        answers.push(await channel.checkQueue(queue), await channel.checkQueue(`${queue}.dead`));
      }
      return answers;
    } finally {
      await channel.close().catch(() => undefined);
    }
  });
  const unobserveDepth = queueDepth.observe(async () =>
    (await queueStatus()).map(({ queue, messageCount }) => [{ queue }, messageCount]),
  );
  const unobserveConsumers = queueConsumers.observe(async () =>
    (await queueStatus()).map(({ queue, consumerCount }) => [{ queue }, consumerCount]),
  );

  return {
    publish: async (event) => {
      eventsPublished.inc({ type: event.type });
      try {
        await inSpan(`publish ${event.type}`, { kind: SpanKind.PRODUCER, attributes: { 'twtr.event.id': event.id } }, () =>
          publishConfirmed(exchange, event.type, event, {
            persistent: true,
            messageId: event.id,
            type: event.type,
            correlationId: event.correlationId,
          }),
        );
        eventsConfirmed.inc({ type: event.type });
      } catch (error) {
        eventsPublishFailed.inc({ type: event.type });
        throw error;
      }
    },
    subscribe: async (options) => {
      const subscription = { ...(options as unknown as AnySubscription), queue: namespaced(options.queue) };
      subscriptions.push(subscription);
      if (currentModel) await startConsumer(currentModel, subscription);
    },
    declare: async (options) => {
      const declaration = { ...(options as unknown as DeclaredQueue), queue: namespaced(options.queue) };
      declarations.push(declaration);
      if (currentModel) await declareOnly(currentModel, declaration);
    },
    publishLive: (topic, payload) => publishConfirmed(liveExchange, topic, payload),
    subscribeLive: async (topic, handle) => {
      const subscription = { topic, handle };
      liveSubscriptions.push(subscription);
      if (currentModel) await startLiveConsumer(currentModel, subscription);
    },
    connected: () => publishChannel !== undefined,
    close: async () => {
      // Take no more messages, let the ones being handled finish and be acknowledged, then go: what was prefetched
      // but not started returns to the queue for the next consumer, handled by no one twice.
      stopped = true;
      unobserveDepth();
      unobserveConsumers();
      await Promise.all(
        [...consumers].map(async (consumer) => {
          await consumer.channel.cancel(consumer.tag).catch(() => undefined);
          await Promise.race([consumer.handled, new Promise((resolve) => setTimeout(resolve, CLOSE_GRACE_MS))]);
          // Closing the channel itself first makes the broker take its acks before it returns the rest to the queue.
          await consumer.channel.close().catch(() => undefined);
        }),
      );
      await connection.close();
    },
  };
}
