import type { ChannelModel, RecoveringChannelModel } from 'amqplib';
import amqp from 'amqplib';

import type { Config } from '../config.js';
import type { Logger } from '../logging.js';
import { eventsConfirmed, eventsPublished, eventsPublishFailed } from '../observability/metrics.js';
import { inSpan, SpanKind } from '../observability/tracing.js';
import { rotatingBrokerAddress } from './brokers.js';
import { QueueConsumers, type Subscription } from './consumer.js';
import type { DomainEvents, EventEnvelope, EventOf } from './events.js';
import { type LiveSubscription, startLiveConsumer } from './live.js';
import { Publisher } from './publisher.js';
import { observeQueues } from './queue-gauges.js';
import { type QueueOptions, Topology } from './topology.js';

/**
 * A subscription of a service to its own durable queue (consumer.ts: how deliveries are handled, ordered or not, and
 * retried; topology.ts: the queue), typed by the events it takes.
 */
export interface SubscribeOptions<Events = DomainEvents, T extends keyof Events & string = keyof Events & string> extends Omit<
  Subscription,
  'events' | 'handle'
> {
  /** Routing keys (event types) bound to the queue. */
  events: readonly T[];
  /** Handles one event; a throw means "retry later" (up to deliveryLimit). Must be idempotent. */
  handle: (event: EventOf<Events, T>) => Promise<void>;
}

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

/** How long close() waits for the messages being handled to finish. */
const CLOSE_GRACE_MS = 10_000;

/**
 * One connection per process, recovered automatically (on the next node AMQP_URL names, when it lists several):
 * topology, consumers and live listeners are declared again on every reconnect. The parts: topology.ts (exchanges and
 * queues), consumer.ts (handling deliveries, ordered or not, with retries), publisher.ts (confirmed publishing),
 * live.ts (live topics), queue-gauges.ts (queue metrics).
 */
export async function connectEventBus(
  config: Pick<Config, 'AMQP_URL' | 'AMQP_EXCHANGE'> & Partial<Pick<Config, 'TWTR_NAMESPACE'>>,
  logger: Logger,
): Promise<EventBus> {
  const topology = new Topology(config.AMQP_EXCHANGE);
  const consumers = new QueueConsumers(topology, logger);
  const publisher = new Publisher(logger);
  const subscriptions: Subscription[] = [];
  const declarations: QueueOptions[] = [];
  const liveSubscriptions: LiveSubscription[] = [];
  // Queue names live in the configured namespace (TWTR_NAMESPACE), like keyspaces.
  const namespaced = (queue: string) => `${config.TWTR_NAMESPACE ?? ''}${queue}`;
  let currentModel: ChannelModel | undefined;

  const forgetModel = () => {
    publisher.detach();
    currentModel = undefined;
  };

  const broker = rotatingBrokerAddress(config.AMQP_URL);
  const connection: RecoveringChannelModel = await amqp.connect(broker.address, {
    // Without it a frame written while an earlier one awaits its ACK waits for it (Nagle), and the broker delays
    // ACKs: a publish took 44 ms to reach a consumer on this machine's loopback, against 0.5 ms with it.
    noDelay: true,
    recovery: {
      calculateDelay: broker.calculateDelay,
      initialMaxRetries: 10,
      setup: async (model: ChannelModel) => {
        // amqplib listens for the connection's errors only once setup has resolved: a heartbeat timeout, socket error
        // or broker close (541 as a node shuts down) meanwhile, or while it closes a model whose setup failed, would
        // throw from its socket handler, out of the process, and leave the connection never closed, so never
        // recovered. Kept for the model's life; silent once set up, when amqplib's own listener reports for it.
        let settingUp = true;
        model.on('error', (error: Error) => {
          if (settingUp) logger.warn('RabbitMQ connection error while setting up', { error: error.message });
        });
        try {
          currentModel = model;
          const channel = await model.createConfirmChannel();
          await topology.declareExchanges(channel);
          publisher.attach(model, channel);
          for (const declaration of declarations) await topology.declareOnly(model, declaration);
          for (const subscription of subscriptions) await consumers.start(model, subscription);
          for (const subscription of liveSubscriptions) await startLiveConsumer(model, topology, subscription, logger);
          settingUp = false;
        } catch (error) {
          // amqplib closes this model and tries again; nothing may go on using it meanwhile.
          forgetModel();
          throw error;
        }
      },
    },
  });
  connection.on('disconnect', (error: Error) => {
    forgetModel();
    logger.warn('lost the RabbitMQ connection; reconnecting', { error: error?.message });
  });
  connection.on('connect', () => logger.info('connected to RabbitMQ'));
  connection.on('error', (error: Error) => logger.warn('RabbitMQ connection error', { error: error.message }));

  // Declared queues too: a queue nobody consumes must still show, with its backlog and its 0 consumers.
  const unobserveQueues = observeQueues(
    () => currentModel,
    () => [...subscriptions, ...declarations],
  );

  return {
    publish: async (event) => {
      eventsPublished.inc({ type: event.type });
      try {
        await inSpan(`publish ${event.type}`, { kind: SpanKind.PRODUCER, attributes: { 'twtr.event.id': event.id } }, () =>
          publisher.publish(topology.exchange, event.type, event, {
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
      const subscription = { ...(options as unknown as Subscription), queue: namespaced(options.queue) };
      subscriptions.push(subscription);
      if (currentModel) await consumers.start(currentModel, subscription);
    },
    declare: async (options) => {
      const declaration = { ...(options as unknown as QueueOptions), queue: namespaced(options.queue) };
      declarations.push(declaration);
      if (currentModel) await topology.declareOnly(currentModel, declaration);
    },
    publishLive: (topic, payload) => publisher.publish(topology.liveExchange, topic, payload),
    subscribeLive: async (topic, handle) => {
      const subscription = { topic, handle };
      liveSubscriptions.push(subscription);
      if (currentModel) await startLiveConsumer(currentModel, topology, subscription, logger);
    },
    connected: () => publisher.connected,
    close: async () => {
      unobserveQueues();
      await consumers.stop(CLOSE_GRACE_MS);
      await connection.close();
    },
  };
}
