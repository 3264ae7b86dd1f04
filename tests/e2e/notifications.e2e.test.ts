import { createClient } from 'graphql-ws';
import { describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

import { createEvent, type EventEnvelope } from '../../platform/messaging/events.js';
import type { NotificationWork } from '../../subgraphs/notifications/src/events.js';
import {
  codes,
  eventually,
  follow,
  gql,
  knownToTweets,
  ok,
  postTweet,
  signUp,
  type TestUser,
  unfollow,
} from '../support/client.js';
import { busOn, likeByStranger, observeEvents, testConfig } from '../support/infra.js';
import { closeCodeFor } from '../support/subscriptions.js';

const NOTIFICATIONS = `query ($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    edges { cursor node { id kind read createdAt actor { id username } tweet { id text } } }
    pageInfo { endCursor hasNextPage }
  }
  unreadNotificationCount
}`;
const MARK_READ = `mutation ($upTo: ID!) { markNotificationsRead(upTo: $upTo) }`;

interface Listed {
  id: string;
  kind: string;
  read: boolean;
  createdAt: string;
  actor: { id: string; username: string };
  tweet: { id: string; text: string } | null;
}

async function notificationsOf(user: TestUser, first = 20, after: string | null = null) {
  const data = await ok(NOTIFICATIONS, { first, after }, { token: user.token });
  return {
    items: data.notifications.edges.map((edge: { node: Listed }) => edge.node) as Listed[],
    pageInfo: data.notifications.pageInfo,
    unread: data.unreadNotificationCount as number,
  };
}

/**
 * What a user's notifications say, newest first: kind, actor and tweet (leaving out the mentions made by
 * knownToTweets' probes).
 */
const summary = async (user: TestUser) =>
  (await notificationsOf(user, 100)).items
    .filter((item) => !item.actor.username.startsWith('probe_'))
    .map((item) => [item.kind, item.actor.username, item.tweet?.id ?? null]);

/** Waits until the user's notifications say exactly this (newest first). */
const expectNotifications = (user: TestUser, expected: (string | null)[][]) =>
  eventually(async () => expect(await summary(user)).toEqual(expected), { timeoutMs: 15_000 });

const engage = (user: TestUser, mutation: string, tweetId: string) =>
  ok(`mutation ($id: ID!) { ${mutation}(tweetId: $id) { id } }`, { id: tweetId }, { token: user.token });

const reply = async (author: TestUser, text: string, inReplyToId: string) =>
  (
    await ok(
      `mutation ($t: String!, $r: ID) { postTweet(text: $t, inReplyToId: $r) { id } }`,
      { t: text, r: inReplyToId },
      {
        token: author.token,
      },
    )
  ).postTweet.id as string;

const deleteTweet = (author: TestUser, id: string) =>
  ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id }, { token: author.token });

describe('notifications', () => {
  it('tell a user who followed them, unread until marked read; only the viewer sees their own', async () => {
    const [alice, bob, carol] = await Promise.all([signUp('alice'), signUp('bob'), signUp('carol')]);
    await follow(bob, alice);
    await expectNotifications(alice, [['FOLLOWED', bob.username, null]]);
    const { items, unread } = await notificationsOf(alice);
    expect(unread).toBe(1);
    expect(items[0]).toMatchObject({ read: false, actor: { id: bob.id }, tweet: null });

    await follow(carol, alice);
    await expectNotifications(alice, [
      ['FOLLOWED', carol.username, null],
      ['FOLLOWED', bob.username, null],
    ]);
    // Marking the older one read leaves the newer unread.
    expect((await ok(MARK_READ, { upTo: items[0].id }, { token: alice.token })).markNotificationsRead).toBe(1);
    const after = await notificationsOf(alice);
    expect(after.items.map((item) => item.read)).toEqual([false, true]);
    expect(after.unread).toBe(1);
    expect((await ok(MARK_READ, { upTo: after.items[0].id }, { token: alice.token })).markNotificationsRead).toBe(0);
    // Marking an older one again moves nothing back.
    expect((await ok(MARK_READ, { upTo: items[0].id }, { token: alice.token })).markNotificationsRead).toBe(0);

    expect(await summary(bob)).toEqual([]);
  });

  it('need a signed-in viewer, and refuse a read marker that is not a notification id', async () => {
    const alice = await signUp('alice');
    for (const query of [NOTIFICATIONS, `{ unreadNotificationCount }`]) {
      expect(codes(await gql(query))).toEqual(['UNAUTHENTICATED']);
    }
    expect(codes(await gql(MARK_READ, { upTo: 'f3b1e0a0-0000-1000-8000-000000000000' }))).toEqual(['UNAUTHENTICATED']);
    // The router's one websocket endpoint takes no socket without a token (as for the live feed).
    expect((await closeCodeFor({})).code).toBe(4401);
    const refused = await gql(MARK_READ, { upTo: 'not-an-id' }, { token: alice.token });
    expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0].extensions?.field).toBe('upTo');
    // A timeuuid from far in the future would mark everything to come read.
    const future = await gql(MARK_READ, { upTo: 'ffffffff-ffff-1fff-8000-000000000000' }, { token: alice.token });
    expect(codes(future)).toEqual(['BAD_USER_INPUT']);
  });

  it('tell an author of likes and reposts; one undone before it was read is gone, a like made again is told once', async () => {
    const [author, fan, other, sentinel] = await Promise.all([signUp('auth'), signUp('fan'), signUp('other'), signUp('sent')]);
    const tweetId = await postTweet(author, 'like me');
    await eventually(() => engage(fan, 'likeTweet', tweetId));
    await engage(fan, 'unlikeTweet', tweetId);
    await engage(fan, 'likeTweet', tweetId);
    await engage(other, 'repost', tweetId);
    await engage(other, 'undoRepost', tweetId);
    await engage(fan, 'repost', tweetId);
    // Own actions tell no one; the sentinel's like, last, shows everything before it was applied.
    await engage(author, 'likeTweet', tweetId);
    await engage(sentinel, 'likeTweet', tweetId);
    await expectNotifications(author, [
      ['LIKED', sentinel.username, tweetId],
      ['REPOSTED', fan.username, tweetId],
      ['LIKED', fan.username, tweetId],
    ]);
    expect((await notificationsOf(author)).unread).toBe(3);

    // Once read, undoing leaves it: it did happen.
    const newest = (await notificationsOf(author)).items[0];
    await ok(MARK_READ, { upTo: newest.id }, { token: author.token });
    await engage(sentinel, 'unlikeTweet', tweetId);
    await engage(fan, 'unlikeTweet', tweetId);
    await engage(other, 'likeTweet', tweetId);
    await expectNotifications(author, [
      ['LIKED', other.username, tweetId],
      ['LIKED', sentinel.username, tweetId],
      ['REPOSTED', fan.username, tweetId],
      ['LIKED', fan.username, tweetId],
    ]);
    expect((await notificationsOf(author)).unread).toBe(1);
  });

  it('tell once of a follow, unfollow and follow again', async () => {
    const [alice, bob, sentinel] = await Promise.all([signUp('alice'), signUp('bob'), signUp('sent')]);
    await follow(bob, alice);
    await unfollow(bob, alice);
    await follow(bob, alice);
    await unfollow(bob, alice);
    await follow(bob, alice);
    await follow(sentinel, alice);
    await expectNotifications(alice, [
      ['FOLLOWED', sentinel.username, null],
      ['FOLLOWED', bob.username, null],
    ]);
    expect((await notificationsOf(alice)).unread).toBe(2);
  });

  it('tell a reply to the parent author once, as REPLIED even when it mentions them, and each mentioned user', async () => {
    const [parent, replier, mentioned] = await Promise.all([signUp('par'), signUp('rep'), signUp('men')]);
    await knownToTweets(parent, mentioned, replier);
    const parentId = await postTweet(parent, 'start of a conversation');
    const replyId = await reply(replier, `@${parent.username} @${mentioned.username} @${replier.username} agreed`, parentId);
    // Replying to oneself and mentioning oneself tell no one.
    await reply(parent, `and @${parent.username} adds`, parentId);
    const mentionId = await postTweet(replier, `hello @${mentioned.username}`);
    await expectNotifications(mentioned, [
      ['MENTIONED', replier.username, mentionId],
      ['MENTIONED', replier.username, replyId],
    ]);
    await expectNotifications(parent, [['REPLIED', replier.username, replyId]]);
    expect((await notificationsOf(parent)).items[0].tweet?.text).toMatch(/agreed$/);
    expect(await summary(replier)).toEqual([]);
  });

  it('are removed, read or not, with the tweet they are about', async () => {
    const [author, fan, mentioned, sentinel] = await Promise.all([signUp('auth'), signUp('fan'), signUp('men'), signUp('sent')]);
    await knownToTweets(mentioned);
    const tweetId = await postTweet(author, `about to go, @${mentioned.username}`);
    const keptId = await postTweet(author, 'staying');
    await eventually(() => engage(fan, 'likeTweet', tweetId));
    await engage(fan, 'likeTweet', keptId);
    await expectNotifications(author, [
      ['LIKED', fan.username, keptId],
      ['LIKED', fan.username, tweetId],
    ]);
    await expectNotifications(mentioned, [['MENTIONED', author.username, tweetId]]);
    const [newest] = (await notificationsOf(author)).items;
    await ok(MARK_READ, { upTo: newest.id }, { token: author.token });

    await deleteTweet(author, tweetId);
    await expectNotifications(author, [['LIKED', fan.username, keptId]]);
    await expectNotifications(mentioned, []);
    // The count follows the list: what is left unread is the probes' mentions.
    const left = await notificationsOf(mentioned);
    expect(left.unread).toBe(left.items.filter((item) => !item.read).length);
    // A like of it that arrives after its deletion (from a replica that had not heard of it yet) tells no one either.
    const bus = await busOn(testConfig().AMQP_EXCHANGE);
    try {
      const late = { tweetId, authorId: author.id, userId: sentinel.id, engagedAt: tweetId, version: Date.now() * 1_000 };
      await bus.publish(createEvent('like.created', late, { correlationId: 'late-like' }));
    } finally {
      await bus.close();
    }
    await engage(sentinel, 'likeTweet', keptId);
    await expectNotifications(author, [
      ['LIKED', sentinel.username, keptId],
      ['LIKED', fan.username, keptId],
    ]);
  });

  it('are paged newest first', async () => {
    const author = await signUp('auth');
    const tweetId = await postTweet(author, 'popular');
    const fans = await Promise.all(Array.from({ length: 23 }, () => signUp('fan')));
    for (const fan of fans) await eventually(() => engage(fan, 'likeTweet', tweetId));
    await eventually(async () => expect((await notificationsOf(author, 100)).items).toHaveLength(23), { timeoutMs: 15_000 });
    const first = await notificationsOf(author, 20);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await notificationsOf(author, 20, first.pageInfo.endCursor);
    expect(second.pageInfo.hasNextPage).toBe(false);
    const items = [...first.items, ...second.items];
    // Every fan once, newest first by when each notification was recorded. That is the order the likes arrived in,
    // which a retried round can change from the order they were made in.
    expect(items.map((item) => item.actor.id).sort()).toEqual(fans.map((fan) => fan.id).sort());
    const times = items.map((item) => Date.parse(item.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(first.unread).toBe(23);
  });

  it('take a storm for one user aside, count every like of it once, and tell others meanwhile', async () => {
    const [star, plain, fan] = await Promise.all([signUp('star'), signUp('plain'), signUp('fan')]);
    const [starTweet, plainTweet] = await Promise.all([postTweet(star, 'popular'), postTweet(plain, 'ordinary')]);
    const deferred = await observeEvents<EventEnvelope<'notifications.deferred', NotificationWork['notifications.deferred']>>([
      'notifications.deferred',
    ]);
    const bus = await busOn(testConfig().AMQP_EXCHANGE);
    const likes = 1_000;
    try {
      // All at once, as engagement would publish them from many replicas: far more than one round of the star's lane.
      await Promise.all(Array.from({ length: likes }, () => bus.publish(likeByStranger(starTweet, star.id, 'storm'))));
      // Someone else's like during the storm is told too (its latency beside a storm is measured by bench:system).
      await eventually(() => engage(fan, 'likeTweet', plainTweet));
      await expectNotifications(plain, [['LIKED', fan.username, plainTweet]]);
      // (Counted, not listed: the storm's likers are made up, so there are no users to resolve as actors.)
      const unread = async () => (await ok('{ unreadNotificationCount }', {}, { token: star.token })).unreadNotificationCount;
      await eventually(async () => expect(await unread()).toBe(likes), { timeoutMs: 60_000 });
      // The changes of recipients a round behind went to notifications.storms, many to a message.
      const setAside = deferred.events.flatMap((event) => event.data.changes);
      expect(setAside.length).toBeGreaterThan(1);
      expect(deferred.events.length).toBeLessThan(setAside.length);
      expect(new Set(setAside.map((change) => change.recipientId))).toEqual(new Set([star.id]));
    } finally {
      await Promise.all([bus.close(), deferred.close()]);
    }
  }, 90_000);

  it('arrive live, once each, with actor and tweet resolved from their subgraphs', async () => {
    const [author, fan] = await Promise.all([signUp('auth'), signUp('fan')]);
    const live = await subscribeToNotifications(author);
    try {
      const tweetId = await postTweet(author, 'watch this');
      await eventually(() => engage(fan, 'likeTweet', tweetId));
      expect(await live.next()).toMatchObject({
        kind: 'LIKED',
        read: false,
        actor: { username: fan.username },
        tweet: { id: tweetId, text: 'watch this' },
      });
      // Undone and made again: the list has it back, but it is not news.
      await engage(fan, 'unlikeTweet', tweetId);
      await engage(fan, 'likeTweet', tweetId);
      await engage(fan, 'repost', tweetId);
      expect(await live.next()).toMatchObject({ kind: 'REPOSTED', actor: { username: fan.username } });
      await expect(live.next(1_500)).rejects.toThrow(/no notification/);
    } finally {
      await live.close();
    }
  });
});

/**
 * A graphql-ws client subscribed to notificationAdded through the router, returned once live end to end: a warm-up
 * user follows the subscriber until that notification arrives (warm-ups are then left out).
 */
async function subscribeToNotifications(user: TestUser) {
  const client = createClient({
    url: inject('routerUrl').replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
  });
  const warmUps = new Set<string>();
  let warmedUp: (() => void) | undefined;
  const received: any[] = [];
  const waiters: ((notification: any) => void)[] = [];
  const unsubscribe = client.subscribe(
    { query: 'subscription { notificationAdded { id kind read actor { id username } tweet { id text } } }' },
    {
      next: ({ data }) => {
        const notification = (data as any)?.notificationAdded;
        if (warmUps.has(notification?.actor?.id)) return warmedUp?.();
        const waiter = waiters.shift();
        if (waiter) waiter(notification);
        else received.push(notification);
      },
      error: (error) => received.push({ error }),
      complete: () => undefined,
    },
  );
  for (let attempt = 0; ; attempt++) {
    const warmUp = await signUp('warm');
    warmUps.add(warmUp.id);
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 3_000);
      warmedUp = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    await follow(warmUp, user);
    if (await arrived) break;
    if (attempt >= 4) throw new Error('the subscription never delivered a warm-up notification');
  }
  return {
    next: (timeoutMs = 10_000): Promise<any> => {
      if (received.length > 0) return Promise.resolve(received.shift());
      return new Promise((resolve, reject) => {
        const waiter = (notification: any) => {
          clearTimeout(timer);
          resolve(notification);
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no notification within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: async () => {
      unsubscribe();
      await client.dispose();
    },
  };
}
