import { describe, expect, it } from 'vitest';

import { eventually, feedOf, follow, ok, postTweet, signUp, unfollow } from '../support/client.js';

describe('home timelines through the router', () => {
  it("delivers a post to the author's and each follower's feed, and to no one else", async () => {
    const [alice, bob, carol] = await Promise.all([signUp('alice'), signUp('bob'), signUp('carol')]);
    await follow(bob, alice);

    const tweetId = await postTweet(alice, 'hello from alice');

    const bobsFeed = await eventually(async () => {
      const feed = await feedOf(bob);
      expect(feed[0]?.id).toBe(tweetId);
      return feed;
    });
    expect(bobsFeed[0]).toEqual({ id: tweetId, text: 'hello from alice', author: { username: alice.username } });
    expect(await feedOf(alice)).toEqual([bobsFeed[0]]);
    // One event fans out to everyone: once Bob has it, the fan-out is over, and Carol follows no one.
    expect(await feedOf(carol)).toEqual([]);
  });

  it('takes an unfollowed author out of the feed and stops delivering their posts', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    const before = await postTweet(alice, 'before the unfollow');
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual([before]));

    await unfollow(bob, alice);
    const after = await postTweet(alice, 'after the unfollow');
    const own = await postTweet(bob, 'bob speaking');
    // Once alice's old post is gone the unfollow has been applied; her later post may not arrive after that.
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual([own]));
    await eventually(async () => expect((await feedOf(alice)).map((item) => item.id)).toEqual([after, before]));
    expect((await feedOf(bob)).map((item) => item.id)).toEqual([own]);
  });

  it("merges a newly followed author's earlier tweets into the feed, in time order", async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    const aliceFirst = await postTweet(alice, 'alice 1');
    const bobOwn = await postTweet(bob, 'bob 1');
    const aliceSecond = await postTweet(alice, 'alice 2');
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual([bobOwn]));

    await follow(bob, alice);
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual([aliceSecond, bobOwn, aliceFirst]));
  });

  it('lists newest first and pages with opaque cursors', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) posted.push(await postTweet(alice, `tweet ${i}`));
    const newestFirst = [...posted].reverse();
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual(newestFirst));

    const query = `query ($after: String) { feed(first: 2, after: $after) {
      edges { cursor node { id } } pageInfo { endCursor hasNextPage } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    do {
      const { feed }: any = await ok(query, { after }, { token: bob.token });
      seen.push(...feed.edges.map((edge: { node: { id: string } }) => edge.node.id));
      after = feed.pageInfo.hasNextPage ? feed.pageInfo.endCursor : null;
      pages++;
    } while (after);
    expect(seen).toEqual(newestFirst);
    expect(pages).toBe(3);
  });

  it('shows a user with counts and tweets', async () => {
    const [alice, bob, carol] = await Promise.all([signUp('alice', 'Alice A.'), signUp('bob'), signUp('carol')]);
    await follow(bob, alice);
    await follow(carol, alice);
    await follow(alice, carol);
    const first = await postTweet(alice, 'first');
    const second = await postTweet(alice, 'second');

    const { user } = await ok(
      `query ($username: String!) { user(username: $username) {
        id username displayName createdAt followerCount followingCount
        tweets(first: 10) { edges { node { id text author { username } } } pageInfo { hasNextPage } }
      } }`,
      { username: alice.username.toUpperCase() },
    );
    expect(user).toMatchObject({
      id: alice.id,
      username: alice.username,
      displayName: 'Alice A.',
      followerCount: 2,
      followingCount: 1,
      tweets: {
        edges: [
          { node: { id: second, text: 'second', author: { username: alice.username } } },
          { node: { id: first, text: 'first', author: { username: alice.username } } },
        ],
        pageInfo: { hasNextPage: false },
      },
    });
    expect(new Date(user.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('keeps follower counts exact when a follow is repeated', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    await follow(bob, alice);
    const { follow: followed } = await ok(
      `mutation ($id: ID!) { follow(userId: $id) { id username followerCount } }`,
      { id: alice.id },
      { token: bob.token },
    );
    expect(followed).toEqual({ id: alice.id, username: alice.username, followerCount: 1 });
    await unfollow(bob, alice);
    await unfollow(bob, alice);
    const { user } = await ok(`query ($u: String!) { user(username: $u) { followerCount } }`, { u: alice.username });
    expect(user.followerCount).toBe(0);
  });
});
