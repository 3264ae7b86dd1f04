import { readFileSync } from 'node:fs';

import { operationFromDocument, printSchema, Supergraph } from '@apollo/federation-internals';
import { type PlanNode, QueryPlanner, type SubscriptionNode } from '@apollo/query-planner';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { generate } from '@graphql-codegen/cli';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import codegenConfig from '../../codegen.js';
import { SUBGRAPH_NAMES, SUPERGRAPH_FILE } from '../../platform/manifest.js';
import { ACCEPTED_HINT_CODES, composeSupergraph, subgraphSdl } from '../../schema/compose.js';

describe('the supergraph', () => {
  const { supergraphSdl, hints } = composeSupergraph();

  it('composes without hints we have not accepted', () => {
    expect(hints.filter((hint) => !ACCEPTED_HINT_CODES.has(hint.definition.code)).map((hint) => hint.message)).toEqual([]);
  });

  it('is committed as composed (run `npm run compose` after changing a subgraph schema)', () => {
    expect(readFileSync(SUPERGRAPH_FILE, 'utf8')).toBe(supergraphSdl);
  });

  const supergraph = Supergraph.build(supergraphSdl);
  const planner = new QueryPlanner(supergraph);
  /** The plan's fetches, hop by hop (side by side ones in one hop), as [service, what it is asked]. */
  const fetchesOf = (query: string) => {
    const plan = planner.buildQueryPlan(operationFromDocument(supergraph.apiSchema(), parse(query))).node!;
    const steps = (node: PlanNode | SubscriptionNode): [string, string][][] => {
      if (node.kind === 'Fetch') return [[[node.serviceName, node.operation]]];
      if (node.kind === 'Flatten') return steps(node.node);
      if (node.kind === 'Sequence') return node.nodes.flatMap(steps);
      if (node.kind === 'Parallel') return [node.nodes.flatMap(steps).flat()];
      if (node.kind === 'Subscription') return [...steps(node.primary), ...(node.rest ? steps(node.rest) : [])];
      throw new Error(`unexpected plan node ${node.kind}`);
    };
    return steps(plan);
  };
  const hops = (query: string) => fetchesOf(query).map((hop) => hop.map(([service]) => service).sort());

  it('plans a feed page and a live item in two hops: the feed, then tweets and users side by side', () => {
    // The feed provides each tweet's author key (from its timeline rows), so users need not wait for tweets.
    expect(hops('{ feed(first: 20) { edges { node { id text author { username } } } } }')).toEqual([
      ['feed'],
      ['tweets', 'users'],
    ]);
    expect(hops('subscription { feedItemAdded { id text author { username } } }')).toEqual([['feed'], ['tweets', 'users']]);
  });

  it("answers a feed page's counts and its viewer's flags in the feed's own fetch: no more fetches than without", () => {
    // The feed provides them from its copy of likes and reposts; nothing viewer-dependent is left for another fetch, so
    // the router may share every other fetch of the page between viewers (shared-fetches.ts).
    const page = `{ feed(first: 20) { edges { node { id text author { username } likeCount repostCount viewerHasLiked
      viewerHasReposted } } } }`;
    const live = 'subscription { feedEdgeAdded { node { id text likeCount repostCount viewerHasLiked viewerHasReposted } } }';
    for (const query of [page, live]) {
      const [[feed], ...rest] = fetchesOf(query);
      expect(feed[0]).toBe('feed');
      expect(feed[1]).toMatch(/likeCount\s+repostCount\s+viewerHasLiked\s+viewerHasReposted/);
      for (const [service, operation] of rest.flat()) expect(operation, service).not.toMatch(/Count|viewerHas/);
    }
    expect(hops(page)).toEqual([['feed'], ['tweets', 'users']]);
  });

  it('offers clients exactly the agreed API', () => {
    // federation-internals prints its own schema (graphql's printer may be a different module instance here).
    expect(printSchema(Supergraph.build(supergraphSdl).apiSchema())).toMatchInlineSnapshot(`
      "type AuthPayload {
        """Send as \`Authorization: Bearer <token>\`."""
        token: String!
        expiresAt: DateTime!
        user: User!
      }

      scalar DateTime

      type FeedConnection {
        edges: [FeedEdge!]!
        pageInfo: PageInfo!
      }

      type FeedEdge {
        cursor: String!
        node: Tweet!

        """
        Whose repost put the tweet in this timeline; null for the tweet itself (its author's own, or someone followed).
        """
        repostedBy: User
      }

      type Mutation {
        """
        The signed-in user likes the tweet (NOT_FOUND if there is none); liking it again changes nothing.
        """
        likeTweet(tweetId: ID!): Tweet!

        """
        The signed-in user stops liking the tweet; harmless when not liking it.
        """
        unlikeTweet(tweetId: ID!): Tweet!

        """
        The signed-in user reposts the tweet to their followers (NOT_FOUND if there is none); again changes nothing.
        """
        repost(tweetId: ID!): Tweet!

        """
        The signed-in user takes their repost of the tweet back, out of their followers' feeds; harmless when none.
        """
        undoRepost(tweetId: ID!): Tweet!

        """
        The signed-in user follows userId; following twice is harmless. Returns the followed user.
        """
        follow(userId: ID!): User!

        """
        The signed-in user stops following userId; harmless when not following. Returns that user.
        """
        unfollow(userId: ID!): User!

        """
        Marks the notification upTo and every older one read; returns the unread count after.
        """
        markNotificationsRead(upTo: ID!): Int!

        """
        Posts a tweet as the signed-in user: 1–280 characters (as people count them), not only whitespace. With
        inReplyToId, a reply to that tweet (NOT_FOUND if it does not exist or was deleted); a reply is an ordinary tweet of
        its author, in their tweets and their followers' feeds.
        """
        postTweet(text: String!, inReplyToId: ID): Tweet!

        """
        Deletes one of the signed-in user's tweets; FORBIDDEN for someone else's, NOT_FOUND if it never existed. Repeating it is harmless.
        """
        deleteTweet(id: ID!): Boolean!

        """
        Creates an account and signs in. CONFLICT when the username is taken (case-insensitively).
        """
        signUp(username: String!, password: String!, displayName: String!): AuthPayload!

        """
        UNAUTHENTICATED for an unknown username or a wrong password (one message for both).
        Repeated failures for one username or from one client are slowed, then refused with RATE_LIMITED for a while.
        """
        logIn(username: String!, password: String!): AuthPayload!

        """
        Changes the signed-in user's profile; arguments left out stay as they are.
        """
        updateProfile(displayName: String): User!
      }

      """Something that happened to the signed-in user."""
      type Notification {
        id: ID!
        kind: NotificationKind!

        """Who did it."""
        actor: User!

        """
        The tweet it is about: the one liked or reposted, the reply, the tweet mentioning; null for a follow.
        """
        tweet: Tweet
        createdAt: DateTime!

        """
        Whether it is at or before the viewer's read marker (markNotificationsRead).
        """
        read: Boolean!
      }

      type NotificationConnection {
        edges: [NotificationEdge!]!
        pageInfo: PageInfo!
      }

      type NotificationEdge {
        cursor: String!
        node: Notification!
      }

      enum NotificationKind {
        """The actor followed the recipient."""
        FOLLOWED

        """The actor liked the recipient's tweet."""
        LIKED

        """The actor reposted the recipient's tweet."""
        REPOSTED

        """
        The actor replied to the recipient's tweet (the tweet is the reply), mentioning them or not.
        """
        REPLIED

        """The actor's tweet mentions the recipient (@username)."""
        MENTIONED
      }

      type PageInfo {
        endCursor: String
        hasNextPage: Boolean!
      }

      type Query {
        """
        The signed-in user's home timeline, newest first: their own tweets and reposts and those of everyone they follow
        (a tweet once: not reposted into a timeline that has it already).
        """
        feed(first: Int = 20, after: String): FeedConnection!

        """
        The signed-in user's notifications, newest first, kept for the retention configured (60 days by default).
        first: 1–100; after: an endCursor from an earlier page.
        """
        notifications(first: Int = 20, after: String): NotificationConnection!

        """How many of the signed-in user's notifications are unread."""
        unreadNotificationCount: Int!

        """Null when there is no such tweet."""
        tweet(id: ID!): Tweet

        """The signed-in user; UNAUTHENTICATED without a token."""
        me: User

        """Null when there is no such user."""
        user(username: String!): User
      }

      type Subscription {
        """
        Each tweet entering the signed-in user's home timeline from now on: their own and those of everyone they follow.
        """
        feedItemAdded: Tweet!

        """
        The same items as edges of the feed: each tweet with whose repost put it in the timeline (null for an original), and
        a cursor from which feed(after:) reads what is older.
        """
        feedEdgeAdded: FeedEdge!

        """Each new notification of the signed-in user, once, as it happens."""
        notificationAdded: Notification!
      }

      type Tweet {
        id: ID!

        """How many users like this tweet."""
        likeCount: Int!

        """How many users reposted this tweet."""
        repostCount: Int!

        """
        Whether the signed-in viewer likes this tweet (false without a viewer).
        """
        viewerHasLiked: Boolean!

        """
        Whether the signed-in viewer reposted this tweet (false without a viewer).
        """
        viewerHasReposted: Boolean!

        """
        Who likes this tweet, newest like first. first: 1–100; after: an endCursor from an earlier page.
        """
        likedBy(first: Int = 20, after: String): UserConnection!
        author: User!
        text: String!
        createdAt: DateTime!

        """
        Users the text mentions (@username), each once, in order of first appearance: at most 10; unknown names stay text.
        """
        mentions: [User!]!

        """
        The tweet this one replies to: null for a tweet that starts a conversation, or whose parent was deleted.
        """
        inReplyTo: Tweet

        """
        Replies to this tweet, oldest first. first: 1–100; after: an endCursor from an earlier page.
        """
        replies(first: Int = 20, after: String): TweetConnection!

        """How many replies this tweet has (deleted ones excluded)."""
        replyCount: Int!
      }

      type TweetConnection {
        edges: [TweetEdge!]!
        pageInfo: PageInfo!
      }

      type TweetEdge {
        cursor: String!
        node: Tweet!
      }

      """A person with an account. Other subgraphs add their fields to it."""
      type User {
        id: ID!

        """
        Tweets this user likes, newest like first (deleted tweets left out). first: 1–100; after: an endCursor.
        """
        likes(first: Int = 20, after: String): TweetConnection!
        followerCount: Int!
        followingCount: Int!

        """
        Who follows this user, newest relationship first. first: 1–100; after: an endCursor from an earlier page.
        """
        followers(first: Int = 20, after: String): UserConnection!

        """Whom this user follows, newest relationship first."""
        following(first: Int = 20, after: String): UserConnection!

        """
        Whether the signed-in viewer follows this user (false without a viewer).
        """
        viewerIsFollowing: Boolean!

        """
        The user's tweets, newest first. first: 1–100; after: an endCursor from an earlier page.
        """
        tweets(first: Int = 20, after: String): TweetConnection!

        """How many tweets the user has (deleted ones excluded)."""
        tweetCount: Int!

        """Unique case-insensitively; shown as typed at sign-up."""
        username: String!
        displayName: String!
        createdAt: DateTime!
      }

      type UserConnection {
        edges: [UserEdge!]!
        pageInfo: PageInfo!
      }

      type UserEdge {
        cursor: String!
        node: User!
      }"
    `);
  });
});

describe('each subgraph', () => {
  it.each(SUBGRAPH_NAMES)('%s builds as a federation 2 subgraph', (name) => {
    const schema = buildSubgraphSchema([{ typeDefs: parse(subgraphSdl(name)) }]);
    expect(schema.getQueryType()?.getFields()).toHaveProperty('_service');
  });

  it('owns what the contract says it owns', () => {
    const owners = Object.fromEntries(
      SUBGRAPH_NAMES.map((name) => {
        const schema = buildSubgraphSchema([{ typeDefs: parse(subgraphSdl(name)) }]);
        const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]
          .flatMap((type) => Object.keys(type?.getFields() ?? {}))
          .filter((field) => !field.startsWith('_'));
        const userFields = Object.keys((schema.getType('User') as any)?.getFields?.() ?? {}).filter((field) => field !== 'id');
        return [name, { roots, userFields }];
      }),
    );
    expect(owners).toEqual({
      users: { roots: ['me', 'user', 'signUp', 'logIn', 'updateProfile'], userFields: ['username', 'displayName', 'createdAt'] },
      tweets: { roots: ['tweet', 'postTweet', 'deleteTweet'], userFields: ['tweets', 'tweetCount'] },
      follows: {
        roots: ['follow', 'unfollow'],
        userFields: ['followerCount', 'followingCount', 'followers', 'following', 'viewerIsFollowing'],
      },
      feed: { roots: ['feed', 'feedItemAdded', 'feedEdgeAdded'], userFields: [] },
      engagement: { roots: ['likeTweet', 'unlikeTweet', 'repost', 'undoRepost'], userFields: ['likes'] },
      notifications: {
        roots: ['notifications', 'unreadNotificationCount', 'markNotificationsRead', 'notificationAdded'],
        userFields: [],
      },
    });
  });
});

describe('generated resolver types', () => {
  it('are current (run `npm run codegen` after changing a subgraph schema)', async () => {
    const outputs = await generate({ ...codegenConfig, silent: true }, false);
    expect(outputs.length).toBe(SUBGRAPH_NAMES.length);
    for (const output of outputs) {
      expect(readFileSync(output.filename, 'utf8'), output.filename).toBe(output.content);
    }
  });
});
