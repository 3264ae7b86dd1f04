import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cql } from '../../platform/cassandra/client.js';
import { COPY_WAIT_MS } from '../../platform/messaging/copies.js';
import type { DomainEvent } from '../../platform/messaging/events.js';
import { codes, eventually, gql, ok, postTweet, signUp, type TestUser } from '../support/client.js';
import { observeEvents } from '../support/infra.js';

const ACT = (mutation: string) =>
  `mutation ($id: ID!) { ${mutation}(tweetId: $id) { id likeCount repostCount viewerHasLiked viewerHasReposted } }`;
const TWEET = `query ($id: ID!) { tweet(id: $id) {
  likeCount repostCount viewerHasLiked viewerHasReposted
  likedBy(first: 100) { edges { node { username } } pageInfo { hasNextPage } } } }`;
const LIKES = `query ($u: String!, $first: Int, $after: String) { user(username: $u) {
  likes(first: $first, after: $after) { edges { node { id text } } pageInfo { endCursor hasNextPage } } } }`;

const act = async (mutation: string, user: TestUser, id: string) =>
  (await ok(ACT(mutation), { id }, { token: user.token }))[mutation];
const tweetAs = async (id: string, viewer?: TestUser) => (await ok(TWEET, { id }, { token: viewer?.token })).tweet;
const likesOf = async (user: TestUser, first = 100, after: string | null = null) =>
  (await ok(LIKES, { u: user.username, first, after })).user.likes;

let observer: Awaited<ReturnType<typeof observeEvents<DomainEvent>>>;
beforeAll(async () => {
  observer = await observeEvents(['like.created', 'like.deleted', 'repost.created', 'repost.deleted']);
});
afterAll(async () => {
  await observer?.close();
});
const eventsAbout = (tweetId: string) =>
  observer.events.filter((event) => (event as DomainEvent<'like.created'>).data.tweetId === tweetId).map((event) => event.type);

describe('likes', () => {
  it('counts, flags and lists a like for the viewer, and takes it back; repeating either publishes nothing', async () => {
    const [author, fan] = await Promise.all([signUp('liked'), signUp('fan')]);
    const id = await postTweet(author, 'like me');

    expect(await act('likeTweet', fan, id)).toEqual({
      id,
      likeCount: 1,
      repostCount: 0,
      viewerHasLiked: true,
      viewerHasReposted: false,
    });
    expect(await act('likeTweet', fan, id)).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    const seenByFan = await tweetAs(id, fan);
    expect(seenByFan).toMatchObject({
      likeCount: 1,
      viewerHasLiked: true,
      likedBy: { edges: [{ node: { username: fan.username } }] },
    });
    expect(await tweetAs(id)).toMatchObject({ likeCount: 1, viewerHasLiked: false });
    expect(await tweetAs(id, author)).toMatchObject({ viewerHasLiked: false });
    expect((await likesOf(fan)).edges.map((edge: any) => edge.node)).toEqual([{ id, text: 'like me' }]);

    expect(await act('unlikeTweet', fan, id)).toMatchObject({ likeCount: 0, viewerHasLiked: false });
    expect(await act('unlikeTweet', fan, id)).toMatchObject({ likeCount: 0, viewerHasLiked: false });
    expect((await likesOf(fan)).edges).toEqual([]);
    expect((await tweetAs(id)).likedBy.edges).toEqual([]);
    await eventually(async () => expect(eventsAbout(id)).toEqual(['like.created', 'like.deleted']));
  });

  it('counts 50 users liking one tweet at once exactly, and lists them newest first', async () => {
    const author = await signUp('popular');
    const fans = await Promise.all(Array.from({ length: 50 }, () => signUp('crowd')));
    const id = await postTweet(author, 'everyone likes this');
    await Promise.all(fans.map((fan) => act('likeTweet', fan, id)));
    const tweet = await tweetAs(id);
    expect(tweet.likeCount).toBe(50);
    expect(new Set(tweet.likedBy.edges.map((edge: any) => edge.node.username))).toEqual(new Set(fans.map((fan) => fan.username)));

    const [first, last] = [fans[0], fans[1]];
    await act('unlikeTweet', first, id);
    await act('likeTweet', first, id);
    const relisted = (await tweetAs(id)).likedBy.edges.map((edge: any) => edge.node.username);
    expect([relisted.length, relisted[0]]).toEqual([50, first.username]);
    expect(relisted).toContain(last.username);
  });

  it('settles a burst of one user liking and unliking to the last word, counted once', async () => {
    const [author, fan] = await Promise.all([signUp('burst'), signUp('burstf')]);
    const id = await postTweet(author, 'make up your mind');
    for (const mutation of ['likeTweet', 'unlikeTweet', 'likeTweet', 'unlikeTweet', 'likeTweet']) await act(mutation, fan, id);
    await Promise.all(Array.from({ length: 10 }, () => act('likeTweet', fan, id)));
    expect(await tweetAs(id, fan)).toMatchObject({ likeCount: 1, viewerHasLiked: true });
    expect((await likesOf(fan)).edges.map((edge: any) => edge.node.id)).toEqual([id]);
    await eventually(async () =>
      expect(eventsAbout(id)).toEqual(['like.created', 'like.deleted', 'like.created', 'like.deleted', 'like.created']),
    );
  });

  it("pages a user's likes newest first and leaves deleted tweets out", async () => {
    const [author, fan] = await Promise.all([signUp('pages'), signUp('pagesf')]);
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(await postTweet(author, `tweet ${n}`));
    // Liked in an order of their own, so the list's order is the likes', not the tweets'.
    const liked = [ids[2], ids[0], ids[4], ids[1], ids[3]];
    for (const id of liked) await act('likeTweet', fan, id);
    const first = await likesOf(fan, 2);
    const rest = await likesOf(fan, 10, first.pageInfo.endCursor);
    expect([...first.edges, ...rest.edges].map((edge: any) => edge.node.id)).toEqual([...liked].reverse());
    expect([first.pageInfo.hasNextPage, rest.pageInfo.hasNextPage]).toEqual([true, false]);

    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: ids[4] }, { token: author.token });
    await eventually(async () =>
      expect((await likesOf(fan)).edges.map((edge: any) => edge.node.id)).toEqual([ids[3], ids[1], ids[0], ids[2]]),
    );
    expect(codes(await gql(ACT('likeTweet'), { id: ids[4] }, { token: fan.token }))).toEqual(['NOT_FOUND']);
  });
});

describe('reposts', () => {
  it('counts and flags a repost, idempotently, and undoes it', async () => {
    const [author, booster] = await Promise.all([signUp('rp'), signUp('rpb')]);
    const id = await postTweet(author, 'boost me');
    expect(await act('repost', booster, id)).toMatchObject({ repostCount: 1, viewerHasReposted: true, likeCount: 0 });
    expect(await act('repost', booster, id)).toMatchObject({ repostCount: 1, viewerHasReposted: true });
    expect(await tweetAs(id, author)).toMatchObject({ repostCount: 1, viewerHasReposted: false });
    expect(await act('undoRepost', booster, id)).toMatchObject({ repostCount: 0, viewerHasReposted: false });
    expect(await act('undoRepost', booster, id)).toMatchObject({ repostCount: 0 });
    await eventually(async () => expect(eventsAbout(id)).toEqual(['repost.created', 'repost.deleted']));
  });
});

describe('what was just created exists everywhere at once', () => {
  it('lets a tweet be liked and reposted the moment postTweet has answered, every time', async () => {
    const [author, fan] = await Promise.all([signUp('fresh'), signUp('freshf')]);
    for (let n = 0; n < 15; n++) {
      const id = await postTweet(author, `fresh ${n}`);
      const [liked, reposted] = await Promise.all([act('likeTweet', fan, id), act('repost', fan, id)]);
      expect([liked.viewerHasLiked, reposted.viewerHasReposted]).toEqual([true, true]);
    }
  });

  it('lets a user be followed the moment signUp has answered, every time', async () => {
    const follower = await signUp('eager');
    for (let n = 0; n < 15; n++) {
      const newcomer = await signUp('newb');
      const followed = await gql(
        `mutation ($id: ID!) { follow(userId: $id) { id viewerIsFollowing } }`,
        { id: newcomer.id },
        {
          token: follower.token,
        },
      );
      expect(followed).toEqual({ data: { follow: { id: newcomer.id, viewerIsFollowing: true } } });
    }
  });

  it('still answers NOT_FOUND at once for ids that never existed, even ids made up this instant', async () => {
    const user = await signUp('nobody');
    const tweetOfNow = await postTweet(user, 'a tweet, not a user');
    const longAgo = '5b6f2a40-0000-11ee-8000-000000000000';
    const randomUser = '0f8e4e59-58d2-4f0e-9b6a-2c8f1f0d9a11';
    // Time-based ids of now, as a client can make them: young enough to be in flight, but not minted by twtr.
    const madeUpNow = () => cql.TimeUuid.now().toString();
    const startedAt = performance.now();
    // (A user's fresh id is no tweet, a tweet's fresh id no user: neither is waited for in the other's place.)
    for (const mutation of ['likeTweet', 'unlikeTweet', 'repost', 'undoRepost'])
      for (const id of [longAgo, madeUpNow(), user.id])
        expect(codes(await gql(ACT(mutation), { id }, { token: user.token })), `${mutation} ${id}`).toEqual(['NOT_FOUND']);
    for (const id of [randomUser, madeUpNow(), tweetOfNow])
      expect(codes(await gql(`mutation ($id: ID!) { follow(userId: $id) { id } }`, { id }, { token: user.token }))).toEqual([
        'NOT_FOUND',
      ]);
    // Not a timing assertion on speed, only that nothing waited out the copy's horizon for an id that cannot be new.
    expect(performance.now() - startedAt).toBeLessThan(COPY_WAIT_MS);
  });

  it('refuses anonymous viewers and ids that are no tweet ids', async () => {
    const [author, user] = await Promise.all([signUp('refuse'), signUp('refuseu')]);
    const id = await postTweet(author, 'hands off');
    expect(codes(await gql(ACT('likeTweet'), { id }))).toEqual(['UNAUTHENTICATED']);
    const malformed = await gql(ACT('repost'), { id: 'nope' }, { token: user.token });
    expect([codes(malformed), malformed.errors?.[0].extensions?.field]).toEqual([['BAD_USER_INPUT'], 'tweetId']);
  });
});
