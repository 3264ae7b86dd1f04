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

  it('stops delivering after an unfollow', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    const before = await postTweet(alice, 'before the unfollow');
    await eventually(async () => expect((await feedOf(bob)).map((item) => item.id)).toEqual([before]));

    await unfollow(bob, alice);
    const after = await postTweet(alice, 'after the unfollow');
    // Bob's own later post is handled after Alice's by the same ordered consumer: once it shows, Alice's was handled.
    const marker = await postTweet(bob, 'marker');
    await eventually(async () => expect((await feedOf(bob))[0]?.id).toBe(marker));

    expect((await feedOf(bob)).map((item) => item.id)).toEqual([marker, before]);
    expect((await feedOf(alice)).map((item) => item.id)).toEqual([after, before]);
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
