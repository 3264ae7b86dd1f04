import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { eventually, feedOf, follow, gql, ok, postTweet, signUp, type TestUser, unfollow } from '../support/client.js';
import { startSecondReplica } from '../support/stack.js';

const PROFILE = `query ($u: String!) { user(username: $u) { followerCount followingCount viewerIsFollowing } }`;
const LISTS = `query ($u: String!, $first: Int, $after: String) { user(username: $u) {
  followers(first: $first, after: $after) { edges { node { username } } pageInfo { endCursor hasNextPage } }
  following(first: 10) { edges { node { username } } } } }`;

const profile = async (user: TestUser, viewer?: TestUser) =>
  (await ok(PROFILE, { u: user.username }, { token: viewer?.token })).user;

describe('the social graph', () => {
  it('lists followers and following newest relationship first, in pages', async () => {
    const star = await signUp('star');
    const fans = [];
    for (let i = 0; i < 5; i++) {
      const fan = await signUp(`fan${i}`);
      await follow(fan, star);
      fans.push(fan);
    }
    await follow(star, fans[0]);

    const names: string[] = [];
    let after: string | null = null;
    let following: string[] = [];
    do {
      const { user }: any = await ok(LISTS, { u: star.username, first: 2, after });
      names.push(...user.followers.edges.map((edge: any) => edge.node.username));
      following = user.following.edges.map((edge: any) => edge.node.username);
      after = user.followers.pageInfo.hasNextPage ? user.followers.pageInfo.endCursor : null;
    } while (after);
    expect(names).toEqual(fans.map((fan) => fan.username).reverse());
    expect(following).toEqual([fans[0].username]);
  });

  it('tells the viewer whether they follow someone', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    expect(await profile(alice, bob)).toEqual({ followerCount: 1, followingCount: 0, viewerIsFollowing: true });
    expect((await profile(bob, alice)).viewerIsFollowing).toBe(false);
    expect((await profile(alice)).viewerIsFollowing).toBe(false);
  });

  it('unfollowing someone you do not follow is harmless and changes no count', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice); // also waits until follows knows alice
    await unfollow(bob, alice);
    await unfollow(bob, alice);
    expect(await profile(alice, bob)).toEqual({ followerCount: 0, followingCount: 0, viewerIsFollowing: false });
    expect(await profile(bob)).toMatchObject({ followerCount: 0, followingCount: 0 });
  });

  it('stays exact and consistent under concurrent follows and unfollows of one pair', async () => {
    await burstOfFollowsAndUnfollows(() => inject('routerUrl'));
  });
});

describe('the social graph on two follows replicas', () => {
  let second: Awaited<ReturnType<typeof startSecondReplica>>;
  beforeAll(async () => {
    second = await startSecondReplica('follows');
  });
  afterAll(async () => {
    await second?.stop();
  });

  it('stays exact and consistent when one pair is followed and unfollowed on both at once', async () => {
    await burstOfFollowsAndUnfollows((i) => (i % 4 < 2 ? inject('routerUrl') : second.routerUrl));
  });
});

/**
 * Bob follows alice, then 12 follows and unfollows of the pair race (sent through `routerFor(i)`); whatever won, every
 * view agrees: the count, the flag, both lists and (eventually) who receives alice's posts.
 */
async function burstOfFollowsAndUnfollows(routerFor: (i: number) => string) {
  const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
  await follow(bob, alice);
  const mutations = Array.from({ length: 12 }, (_, i) =>
    gql(
      `mutation ($id: ID!) { ${i % 2 ? 'unfollow' : 'follow'}(userId: $id) { id } }`,
      { id: alice.id },
      { token: bob.token, url: routerFor(i) },
    ),
  );
  const responses = await Promise.all(mutations);
  expect(responses.filter((response) => response.errors)).toEqual([]);

  const state = await profile(alice, bob);
  expect([0, 1]).toContain(state.followerCount);
  expect(state.viewerIsFollowing).toBe(state.followerCount === 1);
  const { user } = await ok(LISTS, { u: alice.username, first: 10 });
  expect(user.followers.edges.length).toBe(state.followerCount);
  expect((await profile(bob)).followingCount).toBe(state.followerCount);

  const probe = await postTweet(alice, 'who gets this?');
  const marker = await postTweet(bob, 'marker after the probe');
  // Carol's follow is published after the burst's follow events: once her feed has bob's marker (by backfill or
  // fan-out), the feed has applied all of them, and the probe and the marker.
  const carol = await signUp('carol');
  await follow(carol, bob);
  await eventually(async () => expect((await feedOf(carol)).map((item) => item.id)).toContain(marker));
  expect((await feedOf(bob)).some((item) => item.id === probe)).toBe(state.followerCount === 1);
}
