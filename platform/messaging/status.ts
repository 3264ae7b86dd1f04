import { connectCassandra } from '../cassandra/client.js';
import type { Config } from '../config.js';
import { keyspaceOf, QUEUES, SUBGRAPHS } from '../manifest.js';
import { connectToAnyBroker } from './brokers.js';
import { outboxBacklog } from './outbox.js';

export interface QueueStatus {
  queue: string;
  /** Messages ready (undefined when the queue does not exist yet: its consumer never started). */
  ready?: number;
  consumers?: number;
  deadLetters?: number;
}

export interface OutboxStatus {
  keyspace: string;
  pending: number;
  oldestAgeSeconds: number;
}

/** What the event pipeline is doing right now, read from RabbitMQ and Cassandra (npm run events:status). */
export async function eventsStatus(config: Config): Promise<{ queues: QueueStatus[]; outboxes: OutboxStatus[] }> {
  return { queues: await queueStatuses(config), outboxes: await outboxStatuses(config) };
}

async function queueStatuses(config: Config): Promise<QueueStatus[]> {
  const connection = await connectToAnyBroker(config.AMQP_URL);
  // Checking a queue that does not exist closes the channel it was asked on: one channel per check.
  const check = async (queue: string) => {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    try {
      return await channel.checkQueue(queue);
    } catch {
      return undefined;
    } finally {
      await channel.close().catch(() => undefined);
    }
  };
  try {
    const statuses: QueueStatus[] = [];
    for (const name of QUEUES) {
      const queue = `${config.TWTR_NAMESPACE}${name}`;
      const [live, dead] = [await check(queue), await check(`${queue}.dead`)];
      statuses.push({ queue, ready: live?.messageCount, consumers: live?.consumerCount, deadLetters: dead?.messageCount });
    }
    return statuses;
  } finally {
    await connection.close();
  }
}

async function outboxStatuses(config: Config): Promise<OutboxStatus[]> {
  const cassandra = await connectCassandra(config);
  try {
    const statuses: OutboxStatus[] = [];
    for (const { name } of SUBGRAPHS.filter((subgraph) => subgraph.publishesEvents)) {
      const keyspace = keyspaceOf(name, config.TWTR_NAMESPACE);
      await cassandra.execute(`USE ${keyspace}`);
      statuses.push({ keyspace, ...(await outboxBacklog(cassandra)) });
    }
    return statuses;
  } finally {
    await cassandra.shutdown();
  }
}

/** The status as the terminal tables `events:status` prints. */
export function formatEventsStatus({ queues, outboxes }: Awaited<ReturnType<typeof eventsStatus>>): string {
  const show = (value: number | undefined) => (value === undefined ? 'missing' : String(value));
  return [
    table(
      ['queue', 'ready', 'consumers', 'dead letters'],
      queues.map((queue) => [queue.queue, show(queue.ready), show(queue.consumers), show(queue.deadLetters)]),
    ),
    table(
      ['outbox (keyspace)', 'unrelayed', 'oldest unrelayed'],
      outboxes.map((outbox) => [
        outbox.keyspace,
        String(outbox.pending),
        outbox.pending ? `${outbox.oldestAgeSeconds.toFixed(1)} s` : '-',
      ]),
    ),
  ].join('\n\n');
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}
