import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import { eventually, follow, ok, postTweet, signUp, type TestUser } from '../support/client.js';
import { deadLettersIn } from '../support/infra.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { type Stack, startStack } from '../support/stack.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A twtr of its own whose notifications subgraph reaches Cassandra through a link the test cuts while follows and likes
 * keep coming: its consumer loses its store mid-round, and every event must still be applied once.
 */
let isolated: IsolatedNamespace;
let link: TcpProxy;
let stack: Stack;

beforeAll(async () => {
  const [node] = loadConfig().CASSANDRA_CONTACT_POINTS.split(',');
  const [host, port = '9042'] = node.split(':');
  link = await startTcpProxy(Number(port), host);
  isolated = await isolatedNamespace('ntf', { LOG_LEVEL: 'error', RATE_LIMIT_ENGAGE: '1000/60' });
  stack = await startStack(isolated.env, { notifications: { CASSANDRA_CONTACT_POINTS: `127.0.0.1:${link.port}` } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await link?.close();
  await isolated?.remove();
}, 60_000);

const like = (user: TestUser, id: string) =>
  ok(`mutation ($id: ID!) { likeTweet(tweetId: $id) { id } }`, { id }, { token: user.token, url: stack.routerUrl });

const notificationsOf = async (user: TestUser) =>
  ok(
    `{ notifications(first: 100) { edges { node { kind read actor { id } tweet { id } } } } unreadNotificationCount }`,
    {},
    { token: user.token, url: stack.routerUrl },
  );

describe("the notifications consumer's Cassandra link cut while events arrive", () => {
  it('applies every event once when it is back: each notification listed once, the unread count exact', async () => {
    const author = await signUp('ntfauth', 'Author', stack.routerUrl);
    const fans = await Promise.all(Array.from({ length: 8 }, () => signUp('ntffan', 'Fan', stack.routerUrl)));
    const tweets = [await postTweet(author, 'one', stack.routerUrl), await postTweet(author, 'two', stack.routerUrl)];
    await eventually(() => like(fans[0], tweets[0]));
    await eventually(async () => expect((await notificationsOf(author)).unreadNotificationCount).toBe(1));

    link.cut();
    // Half before the link is back, half as it comes back: rounds fail mid-way and are tried again.
    await Promise.all(
      fans.slice(0, 4).flatMap((fan) => [follow(fan, author, stack.routerUrl), ...tweets.map((id) => like(fan, id))]),
    );
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    link.restore();
    await Promise.all(
      fans.slice(4).flatMap((fan) => [follow(fan, author, stack.routerUrl), ...tweets.map((id) => like(fan, id))]),
    );

    // 8 follows and 16 likes (fans[0]'s first like was already told, and liking again changes nothing).
    await eventually(
      async () => {
        const { notifications, unreadNotificationCount } = await notificationsOf(author);
        const seen = notifications.edges.map(({ node }: any) => `${node.kind}:${node.actor.id}:${node.tweet?.id}`);
        expect(seen).toHaveLength(24);
        expect(new Set(seen).size).toBe(24);
        expect(unreadNotificationCount).toBe(24);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(await deadLettersIn([`${isolated.namespace}notifications`])).toBe(0);
  }, 120_000);
});
