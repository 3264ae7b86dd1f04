import type { ChannelModel, Replies } from 'amqplib';

import { queueConsumers, queueDepth, sharedFor } from '../observability/metrics.js';

/**
 * Reports the ready messages and consumers of each queue this process consumes or declares, and of its dead letters,
 * as the broker says (one answer serves a scrape). Returns how to stop reporting.
 */
export function observeQueues(model: () => ChannelModel | undefined, queues: () => readonly { queue: string }[]): () => void {
  // On a channel of its own: checking a queue that is missing closes the channel.
  const queueStatus = sharedFor(1_000, async () => {
    const current = model();
    if (!current || queues().length === 0) return [];
    const channel = await current.createChannel();
    channel.on('error', () => undefined);
    try {
      const answers: Replies.AssertQueue[] = [];
      for (const { queue } of queues()) {
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
  return () => {
    unobserveDepth();
    unobserveConsumers();
  };
}
