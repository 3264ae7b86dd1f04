import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type CassandraClient, cql } from '../../platform/cassandra/client.js';
import { connectToAnyBroker } from '../../platform/messaging/brokers.js';
import type { EventBus } from '../../platform/messaging/bus.js';
import { createEvent } from '../../platform/messaging/events.js';
import { eventually, feedOf, follow, ok, postTweet, signUp, type TestUser, unfollow } from '../support/client.js';
import { TEST_ENV } from '../support/env.js';
import { busOn, cassandraFor, testConfig } from '../support/infra.js';

let bus: EventBus;
let feedKeyspace: CassandraClient;
beforeAll(async () => {
  bus = await busOn(testConfig().AMQP_EXCHANGE);
  feedKeyspace = await cassandraFor('feed');
});
afterAll(async () => {
  await bus?.close();
  await feedKeyspace?.shutdown();
});

/** Ids only: the feed subgraph answers them alone, so events published straight onto the bus need no real tweet. */
async function feedIds(user: TestUser): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  do {
    const { feed }: any = await ok(
      `query ($after: String) { feed(first: 100, after: $after) { edges { node { id } } pageInfo { endCursor hasNextPage } } }`,
      { after },
      { token: user.token },
    );
    ids.push(...feed.edges.map((edge: any) => edge.node.id));
    after = feed.pageInfo.hasNextPage ? feed.pageInfo.endCursor : null;
  } while (after);
  return ids;
}

const tweetCreated = (authorId: string, tweetId = cql.TimeUuid.now().toString()) =>
  createEvent(
    'tweet.created',
    { tweetId, authorId, text: 'from the bus', createdAt: new Date().toISOString() },
    { correlationId: 'test' },
  );

describe('timelines from events published straight onto the bus', () => {
  it('keeps one entry for a duplicated event', async () => {
    const [author, reader] = await Promise.all([signUp('dup'), signUp('dupr')]);
    await follow(reader, author);
    const event = tweetCreated(author.id);
    await bus.publish(event);
    await bus.publish(event);
    await bus.publish({ ...event, id: randomUUID() }); // a redelivery under another event id
    const marker = tweetCreated(author.id);
    await bus.publish(marker);
    await eventually(async () => expect(await feedIds(reader)).toEqual([marker.data.tweetId, event.data.tweetId]));
  });

  it('never brings back a tweet whose creation arrives after its deletion', async () => {
    const [author, reader] = await Promise.all([signUp('late'), signUp('later')]);
    await follow(reader, author);
    const created = tweetCreated(author.id);
    await bus.publish(
      createEvent('tweet.deleted', { tweetId: created.data.tweetId, authorId: author.id }, { correlationId: 't' }),
    );
    await bus.publish(created);
    const marker = tweetCreated(author.id);
    await bus.publish(marker);
    // The queue is applied in order: once the marker is in, the late creation has been handled too.
    await eventually(async () => expect(await feedIds(reader)).toEqual([marker.data.tweetId]));
    await eventually(async () => expect(await feedIds(author)).toEqual([marker.data.tweetId]));
  });

  it('converges when an unfollow arrives before the older follow it undoes', async () => {
    const [author, reader] = await Promise.all([signUp('ooo'), signUp('ooor')]);
    const version = Date.now() * 1000;
    await bus.publish(
      createEvent(
        'follow.deleted',
        { followerId: reader.id, followeeId: author.id, version: version + 10 },
        { correlationId: 't' },
      ),
    );
    await bus.publish(
      createEvent(
        'follow.created',
        { followerId: reader.id, followeeId: author.id, createdAt: new Date().toISOString(), version },
        { correlationId: 't' },
      ),
    );
    const notDelivered = tweetCreated(author.id);
    await bus.publish(notDelivered);
    const own = tweetCreated(reader.id);
    await bus.publish(own);
    await eventually(async () => expect(await feedIds(reader)).toEqual([own.data.tweetId]));
  });

  it('dead-letters a poison message and goes on with the next one', async () => {
    const reader = await signUp('poison');
    const poison = createEvent(
      'tweet.created',
      { tweetId: 'not-a-timeuuid', authorId: reader.id, text: '', createdAt: '' },
      { correlationId: 'poison' },
    );
    const connection = await connectToAnyBroker(testConfig().AMQP_URL);
    const channel = await connection.createConfirmChannel();
    try {
      // Onto the feed's queue alone, not the exchange: no other subgraph's dead letters get it, and the test takes it
      // back out of feed.dead, so nothing is left where the developer's dead-letter alert would see it.
      channel.sendToQueue('feed', Buffer.from(JSON.stringify(poison)), { contentType: 'application/json', persistent: true });
      await channel.waitForConfirms();
      const healthy = tweetCreated(reader.id);
      await bus.publish(healthy);
      await eventually(async () => expect(await feedIds(reader)).toEqual([healthy.data.tweetId]), { timeoutMs: 20_000 });

      const deadIds: string[] = [];
      await eventually(async () => {
        for (let message = await channel.get('feed.dead'); message; message = await channel.get('feed.dead')) {
          const id = JSON.parse(message.content.toString()).id;
          deadIds.push(id);
          if (id === poison.id) {
            channel.ack(message);
            break;
          }
          channel.nack(message, false, true);
        }
        expect(deadIds).toContain(poison.id);
      });
    } finally {
      await channel.close();
      await connection.close();
    }
  });

  it('keeps the newest 800 items and trims older ones away without a delete per item', async () => {
    const [author, reader] = await Promise.all([signUp('cap'), signUp('capr')]);
    await follow(reader, author);
    const published: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const event = tweetCreated(author.id);
      published.push(event.data.tweetId);
      await bus.publish(event);
    }
    const newest800 = published.slice(-800).reverse();
    await eventually(async () => expect((await feedIds(reader))[0]).toBe(published.at(-1)), { timeoutMs: 60_000 });
    expect(await feedIds(reader)).toEqual(newest800);

    const stored = await feedKeyspace.execute('SELECT COUNT(*) AS n FROM home_timeline WHERE user_id = ?', [reader.id]);
    // Trimmed about every 4th insert (FEED_TRIM_EVERY in tests): what remains is 800 plus the few inserts since.
    expect(Number(stored.first().get('n'))).toBeLessThan(850);
  }, 120_000);
});

describe('authors above the fan-out threshold', () => {
  it('look the same to their followers as any other author: order, paging, unfollow, delete, crossing back', async () => {
    const threshold = Number(TEST_ENV.FEED_FANOUT_THRESHOLD);
    const celebrity = await signUp('celeb');
    const friend = await signUp('friend');
    const fans = await Promise.all(Array.from({ length: threshold + 1 }, (_, i) => signUp(`fan${i}`)));
    for (const fan of fans) await follow(fan, celebrity);
    // The friend stays at the threshold (fanned out on write, in chunks); the last fan does not follow them.
    for (const fan of fans.slice(0, threshold)) await follow(fan, friend);
    const first = await postTweet(celebrity, 'celebrity 1'); // above the threshold: merged at read time
    const between = await postTweet(friend, 'friend 1');
    const second = await postTweet(celebrity, 'celebrity 2');
    const expected = [second, between, first];
    const expectedFor = (fan: TestUser) => (fan === fans.at(-1) ? [second, first] : expected);
    for (const fan of fans)
      await eventually(async () => expect((await feedOf(fan)).map((item) => item.id)).toEqual(expectedFor(fan)));
    const storedIds = async (user: TestUser) =>
      (await feedKeyspace.execute('SELECT tweet_id FROM home_timeline WHERE user_id = ?', [user.id])).rows.map((row) =>
        row.get('tweet_id').toString(),
      );
    // Really merged at read time: the celebrity's tweets are not in the stored timelines, the friend's are.
    expect(await storedIds(fans[1])).toEqual([between]);

    const pages: string[] = [];
    let after: string | null = null;
    do {
      const { feed }: any = await ok(
        `query ($after: String) { feed(first: 1, after: $after) { edges { node { id author { username } } } pageInfo { endCursor hasNextPage } } }`,
        { after },
        { token: fans[0].token },
      );
      pages.push(...feed.edges.map((edge: any) => edge.node.id));
      after = feed.pageInfo.hasNextPage ? feed.pageInfo.endCursor : null;
    } while (after);
    expect(pages).toEqual(expected);

    await ok(`mutation ($id: ID!) { deleteTweet(id: $id) }`, { id: first }, { token: celebrity.token });
    await unfollow(fans[0], celebrity);
    await eventually(async () => expect((await feedOf(fans[0])).map((item) => item.id)).toEqual([between]));
    for (const fan of fans.slice(1)) {
      await eventually(async () =>
        expect((await feedOf(fan)).map((item) => item.id)).toEqual(expectedFor(fan).filter((id) => id !== first)),
      );
    }

    // Back at the threshold: the next tweet is fanned out on write, and nothing earlier goes missing.
    const third = await postTweet(celebrity, 'celebrity 3');
    for (const fan of fans.slice(1)) {
      const stillThere = expectedFor(fan).filter((id) => id !== first);
      await eventually(async () => expect((await feedOf(fan)).map((item) => item.id)).toEqual([third, ...stillThere]));
    }
    // Stored once the backfill has run: the pages above may have been read while the tweet was still merged at read time.
    await eventually(async () => expect(await storedIds(fans[1])).toEqual([third, second, between]));
  }, 60_000);
});

describe('npm run feeds:rebuild', () => {
  it("recomputes a user's timeline to exactly what was maintained incrementally", async () => {
    const [reader, alice, bob] = await Promise.all([signUp('rebuild'), signUp('alice'), signUp('bob')]);
    await postTweet(alice, 'before the follow');
    await follow(reader, alice);
    await follow(reader, bob);
    for (const [author, text] of [
      [alice, 'a1'],
      [bob, 'b1'],
      [reader, 'own'],
      [alice, 'a2'],
    ] as const)
      await postTweet(author, text);
    await eventually(async () => expect(await feedIds(reader)).toHaveLength(5));
    const incremental = await feedIds(reader);

    const run = spawnSync('npm', ['run', '-s', 'feeds:rebuild', '--', '--user', reader.id], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('rebuilt 1 timeline with 5 items');
    expect(run.stderr).toContain('1/1 timelines');
    expect(await feedIds(reader)).toEqual(incremental);
  }, 90_000);
});
