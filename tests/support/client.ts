import { randomBytes } from 'node:crypto';

import { inject } from 'vitest';

import { SUBGRAPH_NAMES, type SubgraphName, urlVariable } from '../../platform/manifest.js';

export interface GraphQLResponse<T = any> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; field?: string } }[];
}

/** A client address of its own, so per-client limits never carry over between test files or runs. */
export const uniqueClientAddress = () => `10.${[...randomBytes(3)].join('.')}`;
const thisWorkersAddress = uniqueClientAddress();

/** POSTs one operation over HTTP, as a client would (behind the one proxy hop the test router trusts). */
export async function gql<T = any>(
  query: string,
  variables: Record<string, unknown> = {},
  options: { token?: string; url?: string; headers?: Record<string, string>; clientAddress?: string } = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(options.url ?? inject('routerUrl'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': options.clientAddress ?? thisWorkersAddress,
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as GraphQLResponse<T>;
}

/** Data of a response that must have succeeded. */
export async function ok<T = any>(...args: Parameters<typeof gql>): Promise<T> {
  const response = await gql<T>(...args);
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** The codes of a response's errors, in order. */
export const codes = (response: GraphQLResponse) => (response.errors ?? []).map((error) => error.extensions?.code);

/** A unique username (at most 15 characters), so tests never share users. */
export const uniqueUsername = (prefix = 'u') => `${prefix.slice(0, 5)}_${randomBytes(6).toString('hex').slice(0, 9)}`;

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

/** A new user, signed up from an address of its own (so sign-up limits per address never bind ordinary tests). */
export async function signUp(prefix = 'u', displayName = `Test ${prefix}`, url?: string): Promise<TestUser> {
  const username = uniqueUsername(prefix);
  const data = await ok(
    `mutation ($username: String!, $displayName: String!) {
      signUp(username: $username, password: "correct horse battery", displayName: $displayName) { token user { id username } }
    }`,
    { username, displayName },
    { clientAddress: uniqueClientAddress(), url },
  );
  return { id: data.signUp.user.id, username, token: data.signUp.token };
}

/**
 * Polls until `check` stops throwing or the deadline passes, then rethrows its last error.
 * For eventually consistent reads: never a fixed sleep.
 */
export async function eventually<T>(check: () => Promise<T>, { timeoutMs = 10_000, intervalMs = 50 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** follower follows followee, once the follows subgraph has learnt (from user.created) that followee exists. */
export async function follow(follower: TestUser, followee: TestUser, url?: string): Promise<void> {
  await eventually(() =>
    ok(`mutation ($id: ID!) { follow(userId: $id) { id } }`, { id: followee.id }, { token: follower.token, url }),
  );
}

export async function unfollow(follower: TestUser, followee: TestUser, url?: string): Promise<void> {
  await ok(`mutation ($id: ID!) { unfollow(userId: $id) { id } }`, { id: followee.id }, { token: follower.token, url });
}

/**
 * Mentions are resolved from tweets' own copy of who exists (user.created): waits until it knows these users, with one
 * probe tweet per poll.
 */
export async function knownToTweets(...users: TestUser[]): Promise<void> {
  const prober = await signUp('probe');
  await eventually(
    async () => {
      const { postTweet: posted } = await ok(
        `mutation ($text: String!) { postTweet(text: $text) { mentions { id } } }`,
        { text: users.map((user) => `@${user.username}`).join(' ') },
        { token: prober.token },
      );
      if (posted.mentions.length !== users.length) throw new Error('tweets does not know every one of them yet');
    },
    { intervalMs: 300 },
  );
}

export async function postTweet(author: TestUser, text: string, url?: string): Promise<string> {
  const data = await ok(`mutation ($text: String!) { postTweet(text: $text) { id } }`, { text }, { token: author.token, url });
  return data.postTweet.id;
}

export interface FeedItem {
  id: string;
  text: string;
  author: { username: string };
}

export async function feedOf(user: TestUser, first = 20, url?: string): Promise<FeedItem[]> {
  const data = await ok(
    `query ($first: Int) { feed(first: $first) { edges { node { id text author { username } } } } }`,
    { first },
    { token: user.token, url },
  );
  return data.feed.edges.map((edge: { node: FeedItem }) => edge.node);
}

/** The shared system's subgraph URLs as router configuration: a test's own router then replaces one or two. */
export function sharedSubgraphUrls(): Record<ReturnType<typeof urlVariable<SubgraphName>>, string> {
  const urls = inject('subgraphUrls');
  return Object.fromEntries(SUBGRAPH_NAMES.map((name) => [urlVariable(name), urls[name]])) as never;
}
