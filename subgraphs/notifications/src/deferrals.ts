import type { Lineage } from '../../../platform/messaging/events.js';
import type { Change } from './rules.js';

interface Batch {
  changes: Change[];
  lineage: Lineage;
  timer: NodeJS.Timeout;
  published: Promise<void>;
  settle: (error?: unknown) => void;
}

/**
 * Changes set aside for recipients in a storm, gathered into one `notifications.deferred` event per `size` changes (or
 * per what gathered within `waitMs`): a storm of 10,000 likes is some 160 deferred events to publish, deliver and
 * write, not 10,000, and the deliveries of the storm queue no longer come in bursts of hundreds that hold the process
 * while other recipients' notifications wait behind them. Each caller's promise settles once the event holding its
 * changes is published (confirmed by the broker): the delivery that brought them is acknowledged only then. The event
 * carries the lineage of its first change's cause (the others' are in their own deliveries' logs).
 */
export class Deferrals {
  private gathering: Batch | undefined;

  constructor(
    private readonly publish: (changes: Change[], lineage: Lineage) => Promise<void>,
    private readonly size: number,
    private readonly waitMs: number,
  ) {}

  defer(changes: readonly Change[], lineage: Lineage): Promise<void> {
    const batch = (this.gathering ??= this.open(lineage));
    batch.changes.push(...changes);
    if (batch.changes.length >= this.size) this.flush(batch);
    return batch.published;
  }

  private open(lineage: Lineage): Batch {
    let settle!: Batch['settle'];
    const published = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    const batch: Batch = { changes: [], lineage, published, settle, timer: setTimeout(() => this.flush(batch), this.waitMs) };
    return batch;
  }

  private flush(batch: Batch): void {
    if (this.gathering !== batch) return;
    this.gathering = undefined;
    clearTimeout(batch.timer);
    // Through a promise: a publish that throws at once fails its round's callers too, instead of leaving them waiting.
    Promise.resolve()
      .then(() => this.publish(batch.changes, batch.lineage))
      .then(
        () => batch.settle(),
        (error: unknown) => batch.settle(error ?? new Error('the deferred changes were not published')),
      );
  }
}
