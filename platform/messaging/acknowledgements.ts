import type { Channel, ConsumeMessage } from 'amqplib';

/**
 * The acknowledgements of one consumer's channel, sent once per turn of the event loop instead of one per message.
 * On a quorum queue every acknowledgement is a command through the queue's Raft log: deliveries handled in the same
 * turn, from the oldest outstanding one on, are acknowledged with one `multiple` ack. A delivery handled while an older
 * one is still being handled is acknowledged on its own in that same turn, so one slow delivery never holds the others'
 * acknowledgements (nor, through the prefetch, the deliveries behind them). A delivery the consumer leaves unsettled
 * (it stopped, or its channel closed) stays outstanding until the channel closes, so no `multiple` ack ever covers it.
 */
export class Acknowledgements {
  /**
   * Deliveries not yet acknowledged or dead-lettered, in delivery order (delivery tags only grow on a channel): at most
   * the prefetch, as the broker sends no more while that many are unsettled.
   */
  private readonly outstanding: ConsumeMessage[] = [];
  /** Of those, the ones handled since the last flush. */
  private readonly handled = new Set<ConsumeMessage>();
  private flushScheduled = false;

  constructor(
    private readonly channel: Channel,
    private readonly failed: (error: unknown) => void,
  ) {}

  received(message: ConsumeMessage): void {
    this.outstanding.push(message);
  }

  /** Acknowledged at the end of this turn of the event loop. */
  ack(message: ConsumeMessage): void {
    this.handled.add(message);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Dead-lettered at once: settled before any `multiple` ack that covers it is sent. */
  nack(message: ConsumeMessage): void {
    this.dropOutstanding(message);
    this.settle(() => this.channel.nack(message, false, false));
  }

  /** Sends what is waiting: the handled run at the front in one ack, any other handled delivery on its own. */
  flush(): void {
    this.flushScheduled = false;
    if (this.handled.size === 0) return;
    let front = 0;
    while (front < this.outstanding.length && this.handled.has(this.outstanding[front])) front++;
    if (front > 0) {
      const last = this.outstanding[front - 1];
      this.settle(() => this.channel.ack(last, true));
      for (const message of this.outstanding.splice(0, front)) this.handled.delete(message);
    }
    for (const message of [...this.handled]) {
      this.dropOutstanding(message);
      this.settle(() => this.channel.ack(message));
    }
  }

  private dropOutstanding(message: ConsumeMessage): void {
    const at = this.outstanding.indexOf(message);
    if (at >= 0) this.outstanding.splice(at, 1);
    this.handled.delete(message);
  }

  // Acking on a channel that closed meanwhile throws; the broker redelivers the message and handlers are idempotent.
  private settle(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.failed(error);
    }
  }
}
