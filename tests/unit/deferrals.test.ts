import { describe, expect, it } from 'vitest';

import type { Lineage } from '../../platform/messaging/events.js';
import { Deferrals } from '../../subgraphs/notifications/src/deferrals.js';
import type { Change } from '../../subgraphs/notifications/src/rules.js';

const forget = (n: number): Change => ({ type: 'forget', recipientId: 'star', subject: `like:${n}` });
const lineage = (n: number): Lineage => ({ correlationId: `request ${n}` });

/** Deferrals whose publishing is recorded, and held until `release` (or failed by `fail`). */
function recorded(size: number, waitMs: number) {
  const published: { changes: Change[]; lineage: Lineage }[] = [];
  const pending: { resolve: () => void; reject: (error: Error) => void }[] = [];
  const deferrals = new Deferrals(
    (changes, lineage) =>
      new Promise<void>((resolve, reject) => {
        published.push({ changes, lineage });
        pending.push({ resolve, reject });
      }),
    size,
    waitMs,
  );
  return { deferrals, published, pending };
}

const settledYet = async (promise: Promise<void>) =>
  Promise.race([
    promise.then(
      () => 'published',
      () => 'failed',
    ),
    new Promise((resolve) => setImmediate(() => resolve('waiting'))),
  ]);

describe('deferred notification changes', () => {
  it('go out a round at a time, each caller settled only once its own round is published', async () => {
    const { deferrals, published, pending } = recorded(4, 50);
    const callers = Array.from({ length: 9 }, (_, n) => deferrals.defer([forget(n)], lineage(n)));
    await new Promise(setImmediate);
    expect(published.map((event) => event.changes.length)).toEqual([4, 4]);
    // A round's lineage is its first change's cause.
    expect(published.map((event) => event.lineage.correlationId)).toEqual(['request 0', 'request 4']);
    expect(await settledYet(callers[0])).toBe('waiting');

    pending[1].resolve();
    expect(await Promise.all(callers.slice(0, 8).map(settledYet))).toEqual([
      ...Array(4).fill('waiting'),
      ...Array(4).fill('published'),
    ]);
    pending[0].reject(new Error('the broker refused it'));
    expect(await Promise.all(callers.slice(0, 4).map(settledYet))).toEqual(Array(4).fill('failed'));
    expect(await settledYet(callers[8])).toBe('waiting');
    // The last change goes out on its own once the wait is over.
    await new Promise((resolve) => setTimeout(resolve, 80));
    pending[2].resolve();
    await callers[8];
    expect(published.map((event) => event.changes.length)).toEqual([4, 4, 1]);
  });

  it('fail their round when publishing throws at once, and leave the next round to try again', async () => {
    let throwing = true;
    const published: Change[][] = [];
    const deferrals = new Deferrals(
      (changes) => {
        if (throwing) throw new Error('the channel is closed');
        published.push(changes);
        return Promise.resolve();
      },
      2,
      10,
    );
    const failed = [deferrals.defer([forget(1)], lineage(1)), deferrals.defer([forget(2)], lineage(2))];
    expect(await Promise.all(failed.map(settledYet))).toEqual(['failed', 'failed']);
    // Flushed by the timer, as well as by size.
    const timed = deferrals.defer([forget(3)], lineage(3));
    await expect(timed).rejects.toThrow('the channel is closed');
    throwing = false;
    await deferrals.defer([forget(1), forget(2)], lineage(4));
    expect(published).toEqual([[forget(1), forget(2)]]);
  });

  it('send what gathered once the wait is over, and start a new round after it', async () => {
    const { deferrals, published, pending } = recorded(64, 10);
    const first = [deferrals.defer([forget(1), forget(2)], lineage(1)), deferrals.defer([forget(3)], lineage(2))];
    expect(published).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(published.map((event) => event.changes)).toEqual([[forget(1), forget(2), forget(3)]]);
    pending[0].resolve();
    await Promise.all(first);

    const later = deferrals.defer([forget(4)], lineage(3));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(published.map((event) => event.changes.length)).toEqual([3, 1]);
    pending[1].resolve();
    await later;
  });
});
