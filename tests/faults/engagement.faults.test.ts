import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import { codes, eventually, gql, ok, postTweet, signUp, type TestUser } from '../support/client.js';
import { deadLettersIn } from '../support/infra.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { type Stack, startStack } from '../support/stack.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

/**
 * A twtr of its own whose engagement subgraph reaches Cassandra through a link the test cuts: its consumer (learning
 * of new tweets) and its mutations lose their store while tweets are posted and liked.
 */
let isolated: IsolatedNamespace;
let link: TcpProxy;
let stack: Stack;

beforeAll(async () => {
  const [node] = loadConfig().CASSANDRA_CONTACT_POINTS.split(',');
  const [host, port = '9042'] = node.split(':');
  link = await startTcpProxy(Number(port), host);
  isolated = await isolatedNamespace('eng', {
    LOG_LEVEL: 'error',
    RATE_LIMIT_ENGAGE: '1000/60',
    RATE_LIMIT_POST_TWEET: '1000/60',
  });
  stack = await startStack(isolated.env, { engagement: { CASSANDRA_CONTACT_POINTS: `127.0.0.1:${link.port}` } });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await link?.close();
  await isolated?.remove();
}, 60_000);

const like = (user: TestUser, id: string) =>
  gql(`mutation ($id: ID!) { likeTweet(tweetId: $id) { id } }`, { id }, { token: user.token, url: stack.routerUrl });

describe("engagement's Cassandra link cut while tweets are posted and liked", () => {
  it('refuses likes as SERVICE_UNAVAILABLE meanwhile, dead-letters nothing, and counts every like once when back', async () => {
    const author = await signUp('engauth', 'Author', stack.routerUrl);
    const fans = await Promise.all(Array.from({ length: 5 }, () => signUp('engfan', 'Fan', stack.routerUrl)));
    const before = await postTweet(author, 'posted before the cut', stack.routerUrl);
    await eventually(async () => expect(codes(await like(fans[0], before))).toEqual([]));

    link.cut();
    const during: string[] = [];
    for (let n = 0; n < 5; n++) during.push(await postTweet(author, `posted during the cut ${n}`, stack.routerUrl));
    const refused = await Promise.all(fans.map((fan) => like(fan, during[0])));
    expect(refused.flatMap(codes)).toEqual(Array(5).fill('SERVICE_UNAVAILABLE'));
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    link.restore();

    // Every fan likes every tweet twice over, some while the consumer is still catching up on tweet.created.
    const tweets = [before, ...during];
    await eventually(
      async () => {
        const answers = await Promise.all(fans.flatMap((fan) => tweets.map((id) => like(fan, id))));
        expect(answers.flatMap(codes)).toEqual([]);
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await Promise.all(fans.flatMap((fan) => tweets.map((id) => like(fan, id))));
    for (const id of tweets) {
      const { tweet } = await ok(`query ($id: ID!) { tweet(id: $id) { likeCount } }`, { id }, { url: stack.routerUrl });
      expect(tweet.likeCount).toBe(5);
    }
    expect(await deadLettersIn([`${isolated.namespace}engagement`])).toBe(0);
  }, 120_000);
});
