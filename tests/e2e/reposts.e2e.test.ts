import { describe, expect, it } from 'vitest';

import { feedRepositories } from '../../subgraphs/feed/src/repositories/index.js';
import { FeedService } from '../../subgraphs/feed/src/service.js';
import { eventually, follow, ok, postTweet, signUp, type TestUser } from '../support/client.js';
import { cassandraFor } from '../support/infra.js';
import { type FeedSubscription, subscribeToFeed } from '../support/subscriptions.js';

const FEED = `query { feed(first: 50) { edges { node { id text author { username } likeCount repostCount viewerHasLiked }
  repostedBy { username } } } }`;

interface Entry {
  id: string;
  by: string | null;
}

/** The viewer's timeline as (tweet, whose repost) pairs, newest first. */
async function timelineOf(user: TestUser): Promise<Entry[]> {
  const { feed } = await ok(FEED, {}, { token: user.token });
  return feed.edges.map((edge: any) => ({ id: edge.node.id, by: edge.repostedBy?.username ?? null }));
}

const act = (mutation: string, user: TestUser, id: string) =>
  ok(`mutation ($id: ID!) { ${mutation}(tweetId: $id) { id } }`, { id }, { token: user.token });

describe('reposts in home timelines', () => {
  it("reach the reposter's followers and the reposter, marked with who reposted, and leave again when undone", async () => {
    const [author, booster] = await Promise.all([signUp('orig'), signUp('boost')]);
    // Three followers: more than one work item's worth in the tests' fan-out settings.
    const fans = await Promise.all([signUp('fan'), signUp('fan'), signUp('fan')]);
    await Promise.all(fans.map((fan) => follow(fan, booster)));
    const id = await postTweet(author, 'worth spreading');

    await act('repost', booster, id);
    const reposted = [{ id, by: booster.username }];
    for (const user of [booster, ...fans]) await eventually(async () => expect(await timelineOf(user)).toEqual(reposted));
    const { feed } = await ok(FEED, {}, { token: fans[0].token });
    expect(feed.edges[0].node).toMatchObject({ text: 'worth spreading', author: { username: author.username }, repostCount: 1 });

    await act('undoRepost', booster, id);
    for (const user of [booster, ...fans]) await eventually(async () => expect(await timelineOf(user)).toEqual([]));
  });

  it("gives a timeline one copy of a tweet: none to the author's followers, none from a second repost", async () => {
    const [author, first, second, reader] = await Promise.all([signUp('once'), signUp('rp1'), signUp('rp2'), signUp('reader')]);
    const authorsFan = await signUp('afan');
    await Promise.all([follow(reader, first), follow(reader, second), follow(authorsFan, author), follow(authorsFan, first)]);
    const id = await postTweet(author, 'one copy each');
    await eventually(async () => expect(await timelineOf(authorsFan)).toEqual([{ id, by: null }]));

    await act('repost', first, id);
    await eventually(async () => expect(await timelineOf(reader)).toEqual([{ id, by: first.username }]));
    await act('repost', second, id);
    await eventually(async () => expect(await timelineOf(second)).toEqual([{ id, by: second.username }]));
    // The second repost reached its reposter (processed after it in one queue), yet neither timeline gained a copy.
    expect(await timelineOf(reader)).toEqual([{ id, by: first.username }]);
    expect(await timelineOf(authorsFan)).toEqual([{ id, by: null }]);
  });

  it('show one copy when the author is followed after a repost, and leave with their reposter when unfollowed', async () => {
    const [author, booster, reader] = await Promise.all([signUp('late'), signUp('lateb'), signUp('later')]);
    await follow(reader, booster);
    const id = await postTweet(author, 'followed late');
    const other = await postTweet(author, 'also by the author');
    await act('repost', booster, id);
    await eventually(async () => expect(await timelineOf(reader)).toEqual([{ id, by: booster.username }]));

    // The follow brings the author's recent tweets, the original among them (its row older than the repost's).
    await follow(reader, author);
    await eventually(async () =>
      expect(await timelineOf(reader)).toEqual([
        { id, by: booster.username },
        { id: other, by: null },
      ]),
    );

    await ok(`mutation ($id: ID!) { unfollow(userId: $id) { id } }`, { id: booster.id }, { token: reader.token });
    await eventually(async () =>
      expect(await timelineOf(reader)).toEqual([
        { id: other, by: null },
        { id, by: null },
      ]),
    );
  });

  it('lead on past a page whose rows were all left out', async () => {
    const [author, booster, reader] = await Promise.all([signUp('hid'), signUp('hidb'), signUp('hidr')]);
    await follow(reader, booster);
    const own = await postTweet(reader, 'older, my own');
    for (const text of ['first', 'second']) await act('repost', booster, await postTweet(author, text));
    await eventually(async () => expect(await timelineOf(reader)).toHaveLength(3));
    await ok(`mutation ($id: ID!) { unfollow(userId: $id) { id } }`, { id: booster.id }, { token: reader.token });
    await eventually(async () => expect(await timelineOf(reader)).toEqual([{ id: own, by: null }]));

    const PAGE = `query ($after: String) { feed(first: 2, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`;
    const { feed: first } = await ok(PAGE, { after: null }, { token: reader.token });
    expect(first.edges).toEqual([]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const { feed: next } = await ok(PAGE, { after: first.pageInfo.endCursor }, { token: reader.token });
    expect(next.edges).toEqual([{ node: { id: own } }]);
  });

  it('are taken out of every timeline, with their original, when the original is deleted', async () => {
    const [author, booster, fan] = await Promise.all([signUp('gone'), signUp('goneb'), signUp('gonef')]);
    await follow(fan, booster);
    const kept = await postTweet(booster, 'my own');
    const doomed = await postTweet(author, 'about to go');
    await act('repost', booster, doomed);
    await eventually(async () =>
      expect(await timelineOf(fan)).toEqual([
        { id: doomed, by: booster.username },
        { id: kept, by: null },
      ]),
    );
    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: doomed }, { token: author.token });
    await eventually(async () => expect(await timelineOf(fan)).toEqual([{ id: kept, by: null }]));
    await eventually(async () => expect(await timelineOf(booster)).toEqual([{ id: kept, by: null }]));
  });

  it('reach live subscribers too, and feedEdgeAdded says whose repost it was', async () => {
    const [author, booster, fan, edgeFan] = await Promise.all(
      ['live', 'liveb', 'livef', 'livee'].map((prefix) => signUp(prefix)),
    );
    await Promise.all([follow(fan, booster), follow(edgeFan, booster)]);
    const id = await postTweet(author, 'live and reposted');
    // A subscriber each (each subscription's helper posts warm-ups into its user's own timeline).
    const items = await subscribeToFeed(fan);
    const edges = await subscribeToFeed(
      edgeFan,
      undefined,
      `subscription { feedEdgeAdded { cursor node { id text author { username } } repostedBy { username } } }`,
    );
    try {
      await act('repost', booster, id);
      expect((await items.next()).data.feedItemAdded).toMatchObject({
        id,
        text: 'live and reposted',
        author: { username: author.username },
      });
      const { feedEdgeAdded: edge } = (await edges.next()).data;
      expect(edge).toMatchObject({
        node: { id, text: 'live and reposted', author: { username: author.username } },
        repostedBy: { username: booster.username },
      });
      // An original says no reposter; each edge's cursor reads on from it in the feed, as a page's would.
      const own = await postTweet(booster, 'an original, live');
      const { feedEdgeAdded: original } = (await edges.next()).data;
      expect(original).toMatchObject({ node: { id: own }, repostedBy: null });
      const older = await ok(
        `query ($after: String) { feed(first: 5, after: $after) { edges { node { id } repostedBy { username } } } }`,
        { after: original.cursor },
        { token: edgeFan.token },
      );
      // (Older still: the subscriber's own warm-up tweets.)
      expect(older.feed.edges[0]).toEqual({ node: { id }, repostedBy: { username: booster.username } });
    } finally {
      await Promise.all([items.close(), edges.close()]);
    }
  });

  it("are counted on feed pages and live, and show the viewer's own likes and reposts, and no one else's", async () => {
    const [author, booster, fan, other] = await Promise.all(['mine', 'mineb', 'minef', 'mineo'].map((prefix) => signUp(prefix)));
    await Promise.all([follow(fan, author), follow(other, author)]);
    const flagsOf = async (user: TestUser, id: string) => {
      const { feed } = await ok(
        `query { feed(first: 50) { edges { node { id likeCount viewerHasLiked viewerHasReposted } } } }`,
        {},
        { token: user.token },
      );
      return feed.edges.find((edge: any) => edge.node.id === id)?.node;
    };
    const id = await postTweet(author, 'mine to like');
    await eventually(async () => expect(await flagsOf(fan, id)).toMatchObject({ viewerHasLiked: false }));

    await act('likeTweet', fan, id);
    await act('repost', fan, id);
    // The feed's copy follows the engagement events: a few milliseconds behind the mutations' own answers.
    await eventually(async () =>
      expect(await flagsOf(fan, id)).toEqual({ id, likeCount: 1, viewerHasLiked: true, viewerHasReposted: true }),
    );
    expect(await flagsOf(other, id)).toEqual({ id, likeCount: 1, viewerHasLiked: false, viewerHasReposted: false });
    await act('unlikeTweet', fan, id);
    await eventually(async () =>
      expect(await flagsOf(fan, id)).toMatchObject({ viewerHasLiked: false, viewerHasReposted: true }),
    );

    // Live: a tweet the subscriber liked before it reached their timeline (by a repost) arrives flagged, and the
    // reposter's own edge says the repost is theirs (their copy is written before the repost enters any timeline).
    const stranger = await signUp('mines');
    const liked = await postTweet(stranger, 'liked before it came');
    await follow(fan, booster);
    await act('likeTweet', fan, liked);
    const session = await cassandraFor('feed');
    try {
      const repositories = feedRepositories(session);
      const scope = { viewerId: fan.id, clientAddress: null, correlationId: 'reposts test' };
      const fansCopy = new FeedService(repositories, undefined as never, scope);
      await eventually(async () =>
        expect([await fansCopy.viewerHas('like', liked), await fansCopy.count('like', liked)]).toEqual([true, 1]),
      );
      const query = `subscription { feedEdgeAdded { node { id likeCount repostCount viewerHasLiked viewerHasReposted }
        repostedBy { username } } }`;
      const [fansEdges, boostersEdges] = await Promise.all([fan, booster].map((user) => subscribeToFeed(user, undefined, query)));
      // (Each subscription's warm-up tweets reach the other's timeline too: the fan follows the booster.)
      const edgeOf = async (edges: FeedSubscription, tweetId: string): Promise<any> => {
        const { feedEdgeAdded } = (await edges.next()).data;
        return feedEdgeAdded.node.id === tweetId ? feedEdgeAdded : edgeOf(edges, tweetId);
      };
      try {
        await act('repost', booster, liked);
        const repostedBy = { username: booster.username };
        expect(await edgeOf(fansEdges, liked)).toEqual({
          node: { id: liked, likeCount: 1, repostCount: 1, viewerHasLiked: true, viewerHasReposted: false },
          repostedBy,
        });
        expect(await edgeOf(boostersEdges, liked)).toEqual({
          node: { id: liked, likeCount: 1, repostCount: 1, viewerHasLiked: false, viewerHasReposted: true },
          repostedBy,
        });
      } finally {
        await Promise.all([fansEdges.close(), boostersEdges.close()]);
      }

      // The page's counts and flags are the feed's copy's, not a second ask of the engagement subgraph: a row only the
      // copy holds shows on the page and nowhere else (once the feed process's second-long memory of counts lapses).
      await repositories.engagements.record('like', other.id, id, Date.now() * 1_000);
      await eventually(async () => expect(await flagsOf(other, id)).toMatchObject({ likeCount: 1, viewerHasLiked: true }));
      const { tweet } = await ok(
        `query ($id: ID!) { tweet(id: $id) { likeCount viewerHasLiked } }`,
        { id },
        { token: other.token },
      );
      expect(tweet).toEqual({ likeCount: 0, viewerHasLiked: false });
    } finally {
      await session.shutdown();
    }
  });
});
