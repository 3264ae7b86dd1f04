import type { ChannelModel, ConfirmChannel, Options } from 'amqplib';

import { DependencyUnavailableError } from '../infrastructure-errors.js';
import type { Logger } from '../logging.js';
import { currentTraceCarrier } from '../observability/tracing.js';

/** Publishes JSON with publisher confirms on the connection's one confirm channel, renewed when the broker nacks. */
export class Publisher {
  private channel: ConfirmChannel | undefined;
  private model: ChannelModel | undefined;
  private renewing = false;

  constructor(private readonly logger: Logger) {}

  /** The channel of a (re)established connection. */
  attach(model: ChannelModel, channel: ConfirmChannel): void {
    this.model = model;
    this.channel = channel;
  }

  /** The connection dropped: publishes fail (DependencyUnavailableError) until it is back. */
  detach(): void {
    this.model = undefined;
    this.channel = undefined;
  }

  get connected(): boolean {
    return this.channel !== undefined;
  }

  /** JSON with the current trace context; resolves once the broker has confirmed it. */
  publish(target: string, routingKey: string, payload: unknown, options: Options.Publish = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const channel = this.channel;
      if (!channel) return reject(new DependencyUnavailableError('not connected to RabbitMQ'));
      channel.publish(
        target,
        routingKey,
        Buffer.from(JSON.stringify(payload)),
        { contentType: 'application/json', headers: currentTraceCarrier(), ...options },
        (error) => {
          if (!error) return resolve();
          void this.renew(channel);
          reject(error);
        },
      );
    });
  }

  /**
   * A nack says the broker could not take a message. A channel can go on nacking every message to a quorum queue after
   * its leader died and another was elected (seen on RabbitMQ 3.10: a channel opened on a surviving node a moment after
   * the leader's node was SIGKILLed, before the election, nacked for minutes), so after a nack the next publish goes on
   * a new channel; the old one is closed, failing what it still holds, which its publishers send again.
   */
  private async renew(stale: ConfirmChannel): Promise<void> {
    const model = this.model;
    if (this.renewing || this.channel !== stale || !model) return;
    this.renewing = true;
    try {
      const fresh = await model.createConfirmChannel();
      if (this.channel === stale) this.channel = fresh;
      else await fresh.close();
      await stale.close();
    } catch (error) {
      // The connection is going too: its recovery brings a new channel.
      this.logger.warn('could not renew the publish channel', { error: (error as Error).message });
    } finally {
      this.renewing = false;
    }
  }
}
