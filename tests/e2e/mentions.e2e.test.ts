import { describe, expect, it } from 'vitest';

import { knownToTweets, ok, signUp, type TestUser } from '../support/client.js';

const POST = `mutation ($text: String!) { postTweet(text: $text) { id mentions { id username } } }`;
const post = async (author: TestUser, text: string) => (await ok(POST, { text }, { token: author.token })).postTweet;

describe('mentions', () => {
  it('resolve @usernames to users, each once, in order of first appearance, whatever the case', async () => {
    const [author, alice, bob] = await Promise.all([signUp('men'), signUp('alice'), signUp('bob')]);
    await knownToTweets(alice, bob);
    const text = `hi @${bob.username.toUpperCase()}, and @${alice.username}! (@${bob.username} again) @nobody_here`;
    const posted = await post(author, text);
    expect(posted.mentions).toEqual([
      { id: bob.id, username: bob.username },
      { id: alice.id, username: alice.username },
    ]);

    const { tweet } = await ok(`query ($id: ID!) { tweet(id: $id) { text mentions { id } } }`, { id: posted.id });
    expect(tweet).toEqual({ text, mentions: [{ id: bob.id }, { id: alice.id }] });
  });

  it('leave e-mail addresses, names inside words and unknown names as plain text', async () => {
    const [author, carol] = await Promise.all([signUp('men'), signUp('carol')]);
    await knownToTweets(carol);
    const posted = await post(
      author,
      `write to x@${carol.username}.com or me${'@'}${carol.username}, @${carol.username}x, or see ` +
        `mastodon.social/@${carol.username}; @nobody_here`,
    );
    expect(posted.mentions).toEqual([]);
  });

  it('are at most 10 per tweet; further names stay plain text', async () => {
    const author = await signUp('men');
    const users = await Promise.all(Array.from({ length: 11 }, () => signUp('many')));
    await knownToTweets(...users.slice(0, 10));
    await knownToTweets(users[10]);
    const posted = await post(author, users.map((user) => `@${user.username}`).join(' '));
    expect(posted.mentions.map((user: { id: string }) => user.id)).toEqual(users.slice(0, 10).map((user) => user.id));
  });

  it('are empty for a tweet that names no one', async () => {
    const author = await signUp('men');
    expect((await post(author, 'no names here, just an @ sign')).mentions).toEqual([]);
  });
});
