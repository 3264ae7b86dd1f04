import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CassandraClient } from '../../platform/cassandra/client.js';
import { Inbox, ROUND_SIZE } from '../../subgraphs/notifications/src/inbox.js';
import { NotificationRepository } from '../../subgraphs/notifications/src/repository.js';
import { Retention } from '../../subgraphs/notifications/src/retention.js';
import type { Change } from '../../subgraphs/notifications/src/rules.js';
import { eventually } from '../support/client.js';
import { cassandraFor, testLogger } from '../support/infra.js';

let cassandra: CassandraClient;
beforeAll(async () => {
  cassandra = await cassandraFor('notifications');
});
afterAll(async () => {
  await cassandra?.shutdown();
});

/** An inbox writer as a replica of the subgraph has one (nothing pushed live). */
function replica(retention: Retention) {
  const notifications = new NotificationRepository(cassandra, retention);
  return { notifications, inbox: new Inbox(notifications, retention, async () => {}, testLogger()) };
}

const liked = (recipientId: string, actorId: string): Change => ({
  type: 'notify',
  recipientId,
  subject: `like:${'5e5f6a80-f0e0-11f1-8000-000000000001'}:${actorId}`,
  kind: 'LIKED',
  actorId,
  tweetId: '5e5f6a80-f0e0-11f1-8000-000000000001',
  version: 1,
});

async function countOf(notifications: NotificationRepository, retention: Retention, recipientId: string) {
  return retention.unreadCount((await notifications.snapshot(recipientId, [])).unread, Date.now());
}

describe('a recipient\u2019s notifications in Cassandra', () => {
  it('are counted exactly when two replicas apply the same 300 events at once, each event several times', async () => {
    const retention = new Retention(86_400);
    const [a, b] = [replica(retention), replica(retention)];
    const recipientId = randomUUID();
    const changes = Array.from({ length: 300 }, () => liked(recipientId, randomUUID()));
    await Promise.all([a.inbox.apply(changes), b.inbox.apply([...changes].reverse()), a.inbox.apply(changes.slice(0, 50))]);
    expect(await countOf(a.notifications, retention, recipientId)).toBe(300);
    const page = await a.notifications.page(recipientId, { limit: 100 });
    expect(page.items).toHaveLength(100);
    expect(page.hasNextPage).toBe(true);
    const second = await a.notifications.page(recipientId, { limit: 100, afterId: page.items.at(-1)!.id });
    expect(second.items).toHaveLength(100);
  });

  it('writes a storm back to back alone, and waits between its full rounds while others are written', async () => {
    const retention = new Retention(86_400);
    const notifications = new NotificationRepository(cassandra, retention);
    const waits: number[] = [];
    let endWaits: () => void = () => {};
    const waited = new Promise<void>((resolve) => (endWaits = resolve));
    const inbox = new Inbox(
      notifications,
      retention,
      async () => {},
      testLogger(),
      (ms) => {
        waits.push(ms);
        return waited;
      },
    );
    const likes = ROUND_SIZE * 3;
    const alone = randomUUID();
    await inbox.apply(Array.from({ length: likes }, () => liked(alone, randomUUID())));
    expect(waits).toHaveLength(0);
    expect(await countOf(notifications, retention, alone)).toBe(likes);

    const star = randomUUID();
    const storm = inbox.apply(Array.from({ length: likes }, () => liked(star, randomUUID())));
    // Someone else is notified, one at a time, while the storm is written: its lane yields to them.
    const others: string[] = [];
    for (let i = 0; waits.length === 0 && i < 200; i++) {
      others.push(randomUUID());
      await inbox.apply([liked(others.at(-1)!, randomUUID())]);
    }
    expect(waits).toHaveLength(1);
    // How long follows how long the full round took.
    expect(waits[0]).toBeGreaterThan(0);
    const writtenBeforeWaiting = await countOf(notifications, retention, star);
    expect(writtenBeforeWaiting).toBeGreaterThanOrEqual(ROUND_SIZE);
    expect(writtenBeforeWaiting).toBeLessThan(likes);
    // Others' notifications are written while the storm waits; their one-change rounds wait for nothing.
    const ordinary = randomUUID();
    await inbox.apply([liked(ordinary, randomUUID())]);
    expect(await countOf(notifications, retention, ordinary)).toBe(1);
    expect(await countOf(notifications, retention, star)).toBe(writtenBeforeWaiting);
    expect(waits).toHaveLength(1);
    endWaits();
    await storm;
    expect(await countOf(notifications, retention, star)).toBe(likes);
    for (const other of others) expect(await countOf(notifications, retention, other)).toBe(1);
  });

  it('reads its revision, marker and buckets with the subjects, in one consistent read', async () => {
    const retention = new Retention(86_400);
    const { inbox, notifications } = replica(retention);
    const recipientId = randomUUID();
    const change = liked(recipientId, randomUUID());
    await inbox.apply([change]);
    const snapshot = await notifications.snapshot(recipientId, [change.subject, 'like:unknown']);
    expect(snapshot.revision).not.toBeNull();
    expect([...snapshot.subjects.keys()]).toEqual([change.subject]);
    expect(retention.unreadCount(snapshot.unread, Date.now())).toBe(1);
  });

  it('expire with their bucket, and leave the unread count as they go', async () => {
    const retention = new Retention(2);
    const { inbox, notifications } = replica(retention);
    const recipientId = randomUUID();
    await inbox.apply([liked(recipientId, randomUUID()), liked(recipientId, randomUUID())]);
    expect(await countOf(notifications, retention, recipientId)).toBe(2);
    expect((await notifications.page(recipientId, { limit: 10 })).items).toHaveLength(2);
    await eventually(
      async () => {
        expect((await notifications.page(recipientId, { limit: 10 })).items).toHaveLength(0);
        expect(await countOf(notifications, retention, recipientId)).toBe(0);
        // The buckets themselves expired with their TTL, not only left out of the count.
        expect((await notifications.snapshot(recipientId, [])).unread.size).toBe(0);
      },
      { timeoutMs: 8_000, intervalMs: 250 },
    );
  });
});
