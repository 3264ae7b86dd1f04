import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { codes, eventually, feedOf, follow, gql, ok, postTweet, signUp, unfollow } from '../support/client.js';
import { startSecondReplica } from '../support/stack.js';
import { closeCodeFor, subscribeToFeed } from '../support/subscriptions.js';

const feedItem = (event: any) => event.data?.feedItemAdded;

describe('feedItemAdded through the router', () => {
  it("delivers a followed author's tweet with fields from three subgraphs", async () => {
    const [alice, bob] = await Promise.all([signUp('alice', 'Alice Live'), signUp('bob')]);
    await follow(bob, alice);
    const subscription = await subscribeToFeed(bob);
    try {
      const tweetId = await postTweet(alice, 'hello, live world');
      const item = feedItem(await subscription.next());
      expect(item).toMatchObject({
        id: tweetId,
        text: 'hello, live world',
        author: { username: alice.username, displayName: 'Alice Live' },
      });
      expect(new Date(item.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await subscription.close();
    }
  });

  it('resolves fields that depend on the viewer for each subscriber, while sharing the rest', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    const query = `subscription { feedItemAdded { id text author { username viewerIsFollowing } } }`;
    const [asAlice, asBob] = await Promise.all([
      subscribeToFeed(alice, inject('routerUrl'), query),
      subscribeToFeed(bob, inject('routerUrl'), query),
    ]);
    try {
      const tweetId = await postTweet(alice, 'who follows me?');
      // Bob follows alice, so her warm-up post may reach him too: look for this tweet.
      const itemFor = async (subscription: typeof asAlice) => {
        for (;;) {
          const item = feedItem(await subscription.next());
          if (item.id === tweetId) return item;
        }
      };
      const [toAlice, toBob] = [await itemFor(asAlice), await itemFor(asBob)];
      expect(toAlice).toEqual({
        id: tweetId,
        text: 'who follows me?',
        author: { username: alice.username, viewerIsFollowing: false },
      });
      expect(toBob).toEqual({
        id: tweetId,
        text: 'who follows me?',
        author: { username: alice.username, viewerIsFollowing: true },
      });
    } finally {
      await Promise.all([asAlice.close(), asBob.close()]);
    }
  });

  it('delivers each tweet once, in posting order, and nothing from authors not followed', async () => {
    const [alice, bob, stranger] = await Promise.all([signUp('alice'), signUp('bob'), signUp('strngr')]);
    await follow(bob, alice);
    const subscription = await subscribeToFeed(bob);
    try {
      await postTweet(stranger, 'not for bob');
      const posted = [];
      for (let i = 0; i < 5; i++) posted.push(await postTweet(alice, `in order ${i}`));
      const own = await postTweet(bob, 'bob marks the end');
      const received = [];
      for (let i = 0; i < 6; i++) received.push(feedItem(await subscription.next()).id);
      expect(received).toEqual([...posted, own]);
    } finally {
      await subscription.close();
    }
  });

  it('stops delivering an author once unfollowed', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    const before = await postTweet(alice, 'before');
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toContain(before));
    const subscription = await subscribeToFeed(bob, inject('routerUrl'), undefined, { shownBefore: [before] });
    try {
      await unfollow(bob, alice);
      // The unfollow has reached the feed once alice's earlier tweet has left bob's timeline.
      await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).not.toContain(before));
      await postTweet(alice, 'after the unfollow');
      const own = await postTweet(bob, 'bob marks the end');
      expect(feedItem(await subscription.next()).id).toBe(own);
    } finally {
      await subscription.close();
    }
  });

  it('answers queries and mutations on the same socket', async () => {
    const user = await signUp('wsq');
    const subscription = await subscribeToFeed(user); // its warm-up post was a mutation over HTTP; this checks ws
    await subscription.close();
    const { createClient } = await import('graphql-ws');
    const { default: WebSocket } = await import('ws');
    const client = createClient({
      url: inject('routerUrl').replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${user.token}` },
    });
    try {
      const me = await client.iterate({ query: '{ me { username } }' }).next();
      expect(me.value).toEqual({ data: { me: { username: user.username } } });
      const posted = await client.iterate({ query: 'mutation { postTweet(text: "over the socket") { text } }' }).next();
      expect(posted.value).toEqual({ data: { postTweet: { text: 'over the socket' } } });
    } finally {
      await client.dispose();
    }
  });

  it('points a subscription sent over HTTP to the websocket', async () => {
    const response = await gql(`subscription { feedItemAdded { id } }`);
    expect(codes(response)).toEqual(['BAD_REQUEST']);
    expect(response.errors?.[0].message).toMatch(/graphql-ws/);
  });

  it('refuses a connection without a token (4401) or with a bad one (4403)', async () => {
    expect((await closeCodeFor({})).code).toBe(4401);
    expect(await closeCodeFor({ authorization: 'Bearer not-a-token' })).toMatchObject({ code: 4403 });
  });

  it('leaves nothing behind when a client goes away', async () => {
    const user = await signUp('leaver');
    const feedHealth = async () =>
      (await (await fetch(inject('subgraphUrls').feed.replace(/graphql$/, 'health'))).json()).liveSubscriptions as number;
    const subscription = await subscribeToFeed(user);
    const whileSubscribed = await feedHealth();
    expect(whileSubscribed).toBeGreaterThanOrEqual(1);
    await subscription.close();
    await eventually(async () => expect(await feedHealth()).toBeLessThan(whileSubscribed));
  });
});

describe('two feed replicas and two routers', () => {
  let second: Awaited<ReturnType<typeof startSecondReplica>>;

  beforeAll(async () => {
    second = await startSecondReplica('feed');
  });

  afterAll(async () => {
    await second?.stop();
  });

  it('gets every subscriber exactly its items, whichever replica fanned them out', async () => {
    const [alice, onFirst, onSecond, bystander] = await Promise.all([
      signUp('alice'),
      signUp('first'),
      signUp('second'),
      signUp('bystand'),
    ]);
    await follow(onFirst, alice);
    await follow(onSecond, alice);
    // The follows reach the feed through the follows service's outbox, which a subscriber's own warm-up post may
    // overtake: once an earlier post of alice's is in both timelines, her next ones are fanned out live to both.
    const before = await postTweet(alice, 'before the subscriptions');
    for (const follower of [onFirst, onSecond])
      await eventually(async () => expect((await feedOf(follower)).map((item) => item.id)).toContain(before));
    const shownBefore = { shownBefore: [before] };
    const subscriptions = await Promise.all([
      subscribeToFeed(onFirst, inject('routerUrl'), undefined, shownBefore),
      subscribeToFeed(onSecond, second.routerUrl, undefined, shownBefore),
      subscribeToFeed(bystander, second.routerUrl),
    ]);
    try {
      const posted = [];
      for (let i = 0; i < 4; i++) posted.push(await postTweet(alice, `to both replicas ${i}`));
      const marks = await Promise.all([onFirst, onSecond, bystander].map((user) => postTweet(user, 'end')));
      for (const [index, subscription] of subscriptions.entries()) {
        const expected = index < 2 ? [...posted, marks[index]] : [marks[index]];
        const received = [];
        for (const _ of expected) received.push(feedItem(await subscription.next()).id);
        expect(received).toEqual(expected);
      }
      const { feed } = await ok(
        `{ feed(first: 10) { edges { node { id } } } }`,
        {},
        { token: onSecond.token, url: second.routerUrl },
      );
      expect(feed.edges.map((edge: any) => edge.node.id).slice(0, 5)).toEqual([marks[1], ...[...posted].reverse()]);
    } finally {
      await Promise.all(subscriptions.map((subscription) => subscription.close()));
    }
  });
});
