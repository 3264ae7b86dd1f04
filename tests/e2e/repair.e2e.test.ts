import { randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CassandraClient } from '../../platform/cassandra/client.js';
import { codes, follow, gql, ok, signUp, unfollow, uniqueUsername } from '../support/client.js';
import { cassandraFor } from '../support/infra.js';

/**
 * What a process that dies between two writes leaves behind, written straight into a keyspace, and how the next
 * request through the router puts it right.
 */
let users: CassandraClient;
let follows: CassandraClient;
beforeAll(async () => {
  [users, follows] = await Promise.all([cassandraFor('users'), cassandraFor('follows')]);
});
afterAll(async () => {
  await Promise.all([users?.shutdown(), follows?.shutdown()]);
});

const SIGN_UP = `mutation ($u: String!) { signUp(username: $u, password: "correct horse battery", displayName: "Again") { user { username } } }`;

describe('interrupted writes', () => {
  it('frees a username whose sign-up died after claiming it, once the claim is old', async () => {
    const [abandoned, recent] = [uniqueUsername('gone'), uniqueUsername('fresh')];
    const twoMinutesAgo = (Date.now() - 120_000) * 1000;
    await users.execute('INSERT INTO user_ids_by_username (username_key, user_id) VALUES (?, ?) USING TIMESTAMP ?', [
      abandoned.toLowerCase(),
      randomUUID(),
      twoMinutesAgo,
    ]);
    await users.execute('INSERT INTO user_ids_by_username (username_key, user_id) VALUES (?, ?)', [
      recent.toLowerCase(),
      randomUUID(),
    ]);

    expect((await ok(SIGN_UP, { u: abandoned })).signUp.user.username).toBe(abandoned);
    // A claim only seconds old may be a sign-up still in progress: left alone.
    expect(codes(await gql(SIGN_UP, { u: recent }))).toEqual(['CONFLICT']);
  });

  it('finishes an unfollow that died between its two writes when it is repeated', async () => {
    const [alice, bob] = await Promise.all([signUp('alice'), signUp('bob')]);
    await follow(bob, alice);
    // The unfollow's first write (the relationship) happened; its second (lists and event) did not.
    await follows.execute('DELETE FROM following WHERE follower_id = ? AND followee_id = ?', [bob.id, alice.id]);
    const counts = `query ($u: String!) { user(username: $u) { followerCount followers { edges { node { id } } } } }`;
    expect((await ok(counts, { u: alice.username })).user.followerCount).toBe(1);

    await unfollow(bob, alice);
    expect((await ok(counts, { u: alice.username })).user).toEqual({ followerCount: 0, followers: { edges: [] } });
  });
});
