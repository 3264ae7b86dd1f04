import { connectToAnyBroker } from './brokers.js';

export interface RedriveReport {
  queue: string;
  moved: number;
  /** How many of each event type went back. */
  byType: Record<string, number>;
}

/**
 * Moves every message of `<queue>.dead` back onto `<queue>` (straight to the queue, so no other service receives it
 * twice), each confirmed by the broker before its dead copy is removed. Consumers are idempotent and order-independent,
 * so a redriven event converges like any late one. Messages that arrive in the dead-letter queue meanwhile wait for
 * the next run (the run stops after as many as were there when it started).
 */
export async function redriveDeadLetters(amqpUrl: string, queue: string): Promise<RedriveReport> {
  const connection = await connectToAnyBroker(amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    const deadQueue = `${queue}.dead`;
    await channel.checkQueue(queue);
    const { messageCount } = await channel.checkQueue(deadQueue);
    const report: RedriveReport = { queue, moved: 0, byType: {} };
    for (let i = 0; i < messageCount; i++) {
      const message = await channel.get(deadQueue, { noAck: false });
      if (!message) break;
      const { headers: _deathHeaders, ...properties } = message.properties;
      channel.sendToQueue(queue, message.content, { ...properties, persistent: true });
      await channel.waitForConfirms();
      channel.ack(message);
      const type = String(message.properties.type ?? 'unknown');
      report.byType[type] = (report.byType[type] ?? 0) + 1;
      report.moved++;
    }
    // Closing the channel flushes the acks before the connection goes (unflushed, the broker would requeue them).
    await channel.close();
    return report;
  } finally {
    await connection.close();
  }
}
