import { describe, expect, it } from 'vitest';

import { codes, eventually, feedOf, follow, gql, ok, postTweet, signUp, type TestUser } from '../support/client.js';

const POST = `mutation ($text: String!) { postTweet(text: $text) { id text author { username } createdAt } }`;
const DELETE = `mutation ($id: ID!) { deleteTweet(id: $id) }`;
const TWEETS = `query ($u: String!, $first: Int, $after: String) { user(username: $u) {
  tweetCount tweets(first: $first, after: $after) { edges { cursor node { id text } } pageInfo { endCursor hasNextPage } } } }`;

const tweetsOf = async (user: TestUser, first = 100, after: string | null = null) =>
  (await ok(TWEETS, { u: user.username, first, after })).user;

describe('postTweet', () => {
  it('counts user-perceived characters: 280 emoji with modifiers fit, 281 do not', async () => {
    const author = await signUp('emoji');
    const astronaut = '👩🏽‍🚀';
    const fits = await ok(POST, { text: astronaut.repeat(280) }, { token: author.token });
    expect(fits.postTweet.text).toBe(astronaut.repeat(280));
    const tooLong = await gql(POST, { text: astronaut.repeat(281) }, { token: author.token });
    expect([codes(tooLong), tooLong.errors?.[0].extensions?.field]).toEqual([['BAD_USER_INPUT'], 'text']);
  });

  it('stores text exactly as written, newlines included', async () => {
    const author = await signUp('exact');
    const text = '  first line\n\nsecond line  ';
    const { postTweet: posted } = await ok(POST, { text }, { token: author.token });
    expect(posted).toMatchObject({ text, author: { username: author.username } });
    const { tweet } = await ok(`query ($id: ID!) { tweet(id: $id) { text } }`, { id: posted.id });
    expect(tweet.text).toBe(text);
  });

  it('keeps every one of a burst of tweets, in posting order', async () => {
    const author = await signUp('burst');
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await postTweet(author, `burst ${i}`));
    const { tweetCount, tweets } = await tweetsOf(author);
    expect(tweetCount).toBe(10);
    expect(tweets.edges.map((edge: any) => edge.node.id)).toEqual([...ids].reverse());
  });
});

describe('deleteTweet', () => {
  it("removes a tweet from tweet(id), its author's list and followers' feeds; again is harmless", async () => {
    const [author, follower] = await Promise.all([signUp('del'), signUp('delf')]);
    await follow(follower, author);
    const kept = await postTweet(author, 'kept');
    const doomed = await postTweet(author, 'doomed');
    await eventually(async () => expect((await feedOf(follower)).map((item) => item.id)).toEqual([doomed, kept]));

    expect((await ok(DELETE, { id: doomed }, { token: author.token })).deleteTweet).toBe(true);
    expect((await ok(DELETE, { id: doomed }, { token: author.token })).deleteTweet).toBe(true);

    expect((await ok(`query ($id: ID!) { tweet(id: $id) { id } }`, { id: doomed })).tweet).toBeNull();
    const list = await tweetsOf(author);
    expect([list.tweetCount, list.tweets.edges.map((edge: any) => edge.node.id)]).toEqual([1, [kept]]);
    await eventually(async () => expect((await feedOf(follower)).map((item) => item.id)).toEqual([kept]));
    await eventually(async () => expect((await feedOf(author)).map((item) => item.id)).toEqual([kept]));
  });

  it("is FORBIDDEN on someone else's tweet, NOT_FOUND for no tweet, UNAUTHENTICATED anonymously", async () => {
    const [author, other] = await Promise.all([signUp('own'), signUp('other')]);
    const id = await postTweet(author, 'mine');
    expect(codes(await gql(DELETE, { id }, { token: other.token }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(DELETE, { id: 'e4b1f7c0-0000-11f1-8000-000000000000' }, { token: author.token }))).toEqual([
      'NOT_FOUND',
    ]);
    expect(codes(await gql(DELETE, { id: 'not-an-id' }, { token: author.token }))).toEqual(['NOT_FOUND']);
    expect(codes(await gql(DELETE, { id }))).toEqual(['UNAUTHENTICATED']);
    expect((await ok(`query ($id: ID!) { tweet(id: $id) { text } }`, { id })).tweet.text).toBe('mine');
  });
});

describe('User.tweets paging', () => {
  it('never skips or repeats a tweet while new ones arrive', async () => {
    const author = await signUp('pager');
    const before: string[] = [];
    for (let i = 0; i < 7; i++) before.push(await postTweet(author, `old ${i}`));

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const { tweets } = await tweetsOf(author, 3, after);
      seen.push(...tweets.edges.map((edge: any) => edge.node.id));
      after = tweets.pageInfo.hasNextPage ? tweets.pageInfo.endCursor : null;
      await postTweet(author, 'arrived while paging');
    } while (after);

    expect(seen).toEqual([...before].reverse());
  });

  it.each([
    [{ first: 0 }, 'first'],
    [{ first: 101 }, 'first'],
    [{ first: 10, after: 'not-a-cursor' }, 'after'],
  ])('rejects %o with BAD_USER_INPUT on %s', async (args, field) => {
    const author = await signUp('bad');
    const response = await gql(TWEETS, { u: author.username, ...args });
    expect([codes(response), response.errors?.[0].extensions?.field]).toEqual([['BAD_USER_INPUT'], field]);
  });
});

describe('a feed read right after a deletion', () => {
  it('still answers while the deletion is on its way to the timelines', async () => {
    const author = await signUp('racer');
    const kept = await postTweet(author, 'kept');
    const doomed = await postTweet(author, 'doomed');
    await eventually(async () => expect((await feedOf(author)).map((item) => item.id)).toEqual([doomed, kept]));
    await ok(DELETE, { id: doomed }, { token: author.token });
    const immediately = await gql(`{ feed { edges { node { id text } } } }`, {}, { token: author.token });
    expect(immediately.errors).toBeUndefined();
    expect(immediately.data.feed.edges.map((edge: any) => edge.node.id)).toContain(kept);
    await eventually(async () => expect((await feedOf(author)).map((item) => item.id)).toEqual([kept]));
  });
});
