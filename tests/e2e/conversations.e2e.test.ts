import { describe, expect, it } from 'vitest';

import { codes, eventually, feedOf, follow, gql, ok, postTweet, signUp, type TestUser } from '../support/client.js';

const REPLY = `mutation ($text: String!, $to: ID) { postTweet(text: $text, inReplyToId: $to) { id inReplyTo { id } } }`;
const THREAD = `query ($id: ID!, $first: Int, $after: String) { tweet(id: $id) {
  replyCount replies(first: $first, after: $after) {
    edges { node { id text author { username } inReplyTo { id } } } pageInfo { endCursor hasNextPage } } } }`;

const reply = async (author: TestUser, to: string, text = 'a reply') =>
  (await ok(REPLY, { text, to }, { token: author.token })).postTweet.id as string;
const threadOf = async (id: string, first = 100, after: string | null = null) => (await ok(THREAD, { id, first, after })).tweet;

describe('replies', () => {
  it('reads a conversation back oldest first, page by page, each reply naming its parent', async () => {
    const [author, alice, bob] = await Promise.all([signUp('conv'), signUp('alice'), signUp('bob')]);
    const root = await postTweet(author, 'what do you think?');
    const replies: string[] = [];
    for (const [n, who] of [alice, bob, alice, author, bob].entries()) replies.push(await reply(who, root, `reply ${n}`));

    const first = await threadOf(root, 3);
    const second = await threadOf(root, 3, first.replies.pageInfo.endCursor);
    expect(first.replyCount).toBe(5);
    expect([first.replies.pageInfo.hasNextPage, second.replies.pageInfo.hasNextPage]).toEqual([true, false]);
    const nodes = [...first.replies.edges, ...second.replies.edges].map((edge: any) => edge.node);
    expect(nodes.map((node) => node.id)).toEqual(replies);
    expect(nodes.map((node) => node.text)).toEqual(['reply 0', 'reply 1', 'reply 2', 'reply 3', 'reply 4']);
    expect(new Set(nodes.map((node) => node.inReplyTo.id))).toEqual(new Set([root]));
    expect(nodes[1].author.username).toBe(bob.username);

    const { tweet } = await ok(`query ($id: ID!) { tweet(id: $id) { inReplyTo { id } replyCount } }`, { id: root });
    expect(tweet).toEqual({ inReplyTo: null, replyCount: 5 });
  });

  it("is an ordinary tweet: in its author's tweets and their followers' feeds", async () => {
    const [author, replier, follower] = await Promise.all([signUp('ord'), signUp('ordr'), signUp('ordf')]);
    await follow(follower, replier);
    const root = await postTweet(author, 'root');
    const id = await reply(replier, root);
    const { user } = await ok(`query ($u: String!) { user(username: $u) { tweetCount tweets { edges { node { id } } } } }`, {
      u: replier.username,
    });
    expect([user.tweetCount, user.tweets.edges.map((edge: any) => edge.node.id)]).toEqual([1, [id]]);
    await eventually(async () => expect((await feedOf(follower)).map((item) => item.id)).toEqual([id]));
  });

  it('is repliable the moment postTweet has answered, every time', async () => {
    const author = await signUp('quick');
    for (let n = 0; n < 20; n++) {
      const root = await postTweet(author, `quick ${n}`);
      expect((await ok(REPLY, { text: 'first!', to: root }, { token: author.token })).postTweet.inReplyTo.id).toBe(root);
    }
  });

  it('refuses a parent that never existed or was deleted (NOT_FOUND), or is no tweet id (BAD_USER_INPUT)', async () => {
    const author = await signUp('orph');
    const doomed = await postTweet(author, 'doomed');
    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: doomed }, { token: author.token });
    const neverWas = '5b6f2a40-0000-11ee-8000-000000000000';
    for (const to of [doomed, neverWas])
      expect(codes(await gql(REPLY, { text: 'hi', to }, { token: author.token }))).toEqual(['NOT_FOUND']);
    const malformed = await gql(REPLY, { text: 'hi', to: 'nope' }, { token: author.token });
    expect([codes(malformed), malformed.errors?.[0].extensions?.field]).toEqual([['BAD_USER_INPUT'], 'inReplyToId']);
    expect(codes(await gql(REPLY, { text: 'hi', to: doomed }))).toEqual(['UNAUTHENTICATED']);
  });

  it('keeps replies whose parent is deleted (their inReplyTo becomes null) and counts only live replies', async () => {
    const [author, replier] = await Promise.all([signUp('keep'), signUp('keepr')]);
    const root = await postTweet(author, 'root');
    const [kept, removed] = [await reply(replier, root, 'kept'), await reply(replier, root, 'removed')];
    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: removed }, { token: replier.token });
    const thread = await threadOf(root);
    expect([thread.replyCount, thread.replies.edges.map((edge: any) => edge.node.id)]).toEqual([1, [kept]]);

    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: root }, { token: author.token });
    const { tweet } = await ok(`query ($id: ID!) { tweet(id: $id) { text inReplyTo { id } } }`, { id: kept });
    expect(tweet).toEqual({ text: 'kept', inReplyTo: null });
  });
});
