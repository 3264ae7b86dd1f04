import { randomUUID } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { createEvent, type DomainEvents, type EventType } from '../../platform/messaging/events.js';
import { Retention } from '../../subgraphs/notifications/src/retention.js';
import {
  applyChanges,
  type Change,
  changesOf,
  type InboxState,
  type RoundOutcome,
} from '../../subgraphs/notifications/src/rules.js';
import { millisOf, notAfter } from '../../subgraphs/notifications/src/timeuuids.js';

const [alice, bob, carol] = [randomUUID(), randomUUID(), randomUUID()];
const TWEET = '5e5f6a80-f0e0-11f1-8000-000000000001';
const event = <T extends EventType>(type: T, data: DomainEvents[T]) => createEvent(type, data, { correlationId: 'test' });
const like = (type: 'like.created' | 'like.deleted', userId: string, version: number) =>
  event(type, { tweetId: TWEET, authorId: alice, userId, engagedAt: TWEET, version });

/** Timeuuids one millisecond apart, in order. */
function ids() {
  let ms = Date.UTC(2026, 11, 5);
  return () => {
    const ticks = BigInt(ms++) * 10_000n + 122_192_928_000_000_000n;
    const hex = ticks.toString(16).padStart(15, '0');
    return `${hex.slice(7)}-${hex.slice(3, 7)}-1${hex.slice(0, 3)}-8000-000000000000`;
  };
}

/** Applies rounds of changes one after the other, as the inbox does, keeping the partition's state between them. */
function inbox(readUpTo: string | null = null) {
  const newId = ids();
  let state: InboxState = { readUpTo, unread: new Map(), subjects: new Map() };
  const listed = new Map<string, string>();
  let announced: string[] = [];
  return {
    apply(...changes: Change[]): RoundOutcome {
      const outcome = applyChanges(state, changes, { newId, bucketOf: () => 0, kept: () => true });
      for (const { id, kind } of outcome.added) listed.set(id, kind);
      for (const { id } of outcome.removed) listed.delete(id);
      announced = [...announced, ...outcome.announced];
      state = {
        ...state,
        unread: new Map([...state.unread, ...outcome.unread]),
        subjects: new Map([...state.subjects, ...outcome.subjects]),
      };
      return outcome;
    },
    /** As markNotificationsRead does: the marker moves, the notifications after it are counted again. */
    markRead(upTo: string) {
      const unread = [...listed.keys()].filter((id) => !notAfter(id, upTo)).length;
      state = { ...state, readUpTo: upTo, unread: new Map([[0, unread]]) };
    },
    get listed() {
      return [...listed.values()];
    },
    get ids() {
      return [...listed.keys()];
    },
    get unread() {
      return state.unread.get(0) ?? 0;
    },
    get announced() {
      return announced;
    },
  };
}

describe('what events notify', () => {
  it('a follow tells the followee, a like or repost the author, an undo withdraws it', () => {
    expect(changesOf(event('follow.created', { followerId: bob, followeeId: alice, createdAt: '', version: 5 }))).toEqual([
      { type: 'notify', recipientId: alice, subject: `follow:${bob}`, kind: 'FOLLOWED', actorId: bob, tweetId: null, version: 5 },
    ]);
    expect(changesOf(like('like.created', bob, 7))).toMatchObject([
      { type: 'notify', recipientId: alice, subject: `like:${TWEET}:${bob}`, kind: 'LIKED', tweetId: TWEET, version: 7 },
    ]);
    expect(changesOf(like('like.deleted', bob, 8))).toEqual([
      { type: 'withdraw', recipientId: alice, subject: `like:${TWEET}:${bob}`, version: 8 },
    ]);
  });

  it('a reply tells the parent author once, as REPLIED even when it mentions them; each mention once; never oneself', () => {
    const changes = changesOf(
      event('tweet.created', {
        tweetId: TWEET,
        authorId: bob,
        text: '',
        createdAt: '',
        inReplyToId: randomUUID(),
        inReplyToAuthorId: alice,
        mentionIds: [alice, carol, bob, carol],
      }),
    );
    expect(changes.map((change) => [change.recipientId, (change as { kind: string }).kind])).toEqual([
      [alice, 'REPLIED'],
      [carol, 'MENTIONED'],
    ]);
    const ownReply = { tweetId: TWEET, authorId: bob, text: '', createdAt: '', inReplyToAuthorId: bob, mentionIds: [bob] };
    expect(changesOf(event('tweet.created', ownReply))).toEqual([]);
    expect(changesOf(event('follow.created', { followerId: bob, followeeId: bob, createdAt: '', version: 1 }))).toEqual([]);
  });
});

describe('a recipient\u2019s notifications', () => {
  const liked = (userId: string, version: number) => changesOf(like('like.created', userId, version))[0]!;
  const unliked = (userId: string, version: number) => changesOf(like('like.deleted', userId, version))[0]!;

  it('like, unlike and like again: one notification, in its first place, announced once', () => {
    const box = inbox();
    box.apply(liked(bob, 1));
    const [first] = box.ids;
    box.apply(unliked(bob, 2));
    expect(box.listed).toEqual([]);
    box.apply(liked(bob, 3));
    expect(box.ids).toEqual([first]);
    expect(box.announced).toEqual([first]);
    expect(box.unread).toBe(1);
  });

  it('ignores repeats and changes older than the last applied, whatever order they come in', () => {
    const box = inbox();
    box.apply(unliked(bob, 2));
    box.apply(liked(bob, 1));
    expect(box.listed).toEqual([]);
    box.apply(liked(carol, 1), liked(carol, 1));
    box.apply(liked(carol, 1));
    expect(box.listed).toEqual(['LIKED']);
    expect(box.unread).toBe(1);
  });

  it('keeps a read notification when its like is undone, and does not count it', () => {
    const box = inbox();
    box.apply(liked(bob, 1));
    box.markRead(box.ids[0]!);
    box.apply(unliked(bob, 2));
    expect(box.listed).toEqual(['LIKED']);
    box.apply(liked(bob, 3));
    expect(box.listed).toEqual(['LIKED']);
    expect(box.unread).toBe(0);
  });

  it('forgets a deleted tweet\u2019s notifications, read or not, for good', () => {
    const box = inbox();
    box.apply(liked(bob, 1), liked(carol, 1));
    box.markRead(box.ids[0]!);
    box.apply(
      { type: 'forget', recipientId: alice, subject: `like:${TWEET}:${bob}` },
      { type: 'forget', recipientId: alice, subject: `like:${TWEET}:${carol}` },
    );
    expect(box.listed).toEqual([]);
    box.apply(liked(bob, 9));
    expect(box.listed).toEqual([]);
    expect(box.unread).toBe(0);
  });

  it('keeps a notification withdrawn and made again within one round, counted once', () => {
    const box = inbox();
    box.apply(liked(bob, 1));
    const [first] = box.ids;
    const outcome = box.apply(unliked(bob, 2), liked(bob, 3));
    expect(outcome.added).toEqual([]);
    expect(outcome.removed).toEqual([]);
    expect(box.ids).toEqual([first]);
    expect(box.unread).toBe(1);
  });

  it('announces a first notification even when an undo of it arrived first', () => {
    const box = inbox();
    box.apply(unliked(bob, 2));
    box.apply(liked(bob, 3));
    expect(box.announced).toEqual(box.ids);
    expect(box.listed).toEqual(['LIKED']);
  });

  it('counts within one round what is made and undone in it', () => {
    const box = inbox();
    const outcome = box.apply(liked(bob, 1), unliked(bob, 2), liked(carol, 1));
    expect(outcome.added).toHaveLength(1);
    expect(outcome.removed).toEqual([]);
    expect(box.unread).toBe(1);
  });
});

describe('retention', () => {
  it('expires each bucket whole, a 60th of the retention after it ends, and counts only live buckets', () => {
    const retention = new Retention(60 * 86_400);
    expect(retention.bucketMs).toBe(86_400_000);
    const now = Date.UTC(2026, 11, 5, 12);
    const today = retention.bucketOf(now);
    expect(retention.ttlSeconds(today, now)).toBe(12 * 3_600 + 60 * 86_400);
    const buckets = new Map([
      [today, 2],
      [today - 60, 5],
      [today - 61, 7],
    ]);
    expect(retention.unreadCount(buckets, now)).toBe(7);
    expect(retention.ttlSeconds(today - 61, now)).toBe(0);
  });

  it('reads a timeuuid\u2019s time and order', () => {
    const next = ids();
    const [a, b] = [next(), next()];
    expect(millisOf(a)).toBe(Date.UTC(2026, 11, 5));
    expect(notAfter(a, b)).toBe(true);
    expect(notAfter(b, a)).toBe(false);
    expect(notAfter(a, a)).toBe(true);
  });
});
