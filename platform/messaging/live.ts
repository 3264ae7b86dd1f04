import type { ChannelModel } from 'amqplib';

import type { Logger } from '../logging.js';
import { contextFrom, inSpan, SpanKind } from '../observability/tracing.js';
import type { Topology } from './topology.js';

export interface LiveSubscription {
  topic: string;
  handle: (payload: unknown) => void;
}

/**
 * Listens to a live topic on a queue of this process's own, gone when the process (or its connection) is: live
 * notifications are only for who listens now, and are never acknowledged or retried.
 */
export async function startLiveConsumer(
  model: ChannelModel,
  topology: Topology,
  subscription: LiveSubscription,
  logger: Logger,
): Promise<void> {
  const channel = await model.createChannel();
  await topology.declareExchanges(channel);
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true, durable: false });
  await channel.bindQueue(queue, topology.liveExchange, subscription.topic);
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
}
