import { describe, expect, inject, it } from 'vitest';

import { codes, gql, signUp, uniqueClientAddress } from '../support/client.js';
import { scrape, total } from '../support/metrics.js';

/** How many queries the router has answered by its single-fetch path so far. */
const answeredBySingleFetch = async () =>
  total(await scrape(inject('routerOperatorUrl')), 'twtr_router_single_fetch_answers_total');

/** The status, content type and exact body of a POST, as a client receives them. */
async function raw(query: string, variables: Record<string, unknown>, token?: string, operationName?: string) {
  const response = await fetch(inject('routerUrl'), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-forwarded-for': uniqueClientAddress(),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables, operationName }),
  });
  const header = (name: string) => response.headers.get(name);
  return { status: response.status, type: header('content-type'), cache: header('cache-control'), body: await response.text() };
}

describe('a query whose plan is one fetch', () => {
  it('is answered without the executor once the full pipeline has answered its text, byte for byte alike', async () => {
    const [alice, bob] = await Promise.all([signUp('sfa'), signUp('sfb')]);
    const query = `query SingleFetchWho($u: String!) { user(username: $u) { __typename id handle: username displayName } }`;
    const before = await answeredBySingleFetch();
    const first = await raw(query, { u: alice.username });
    expect(await answeredBySingleFetch()).toBe(before);
    const again = await raw(query, { u: alice.username });
    const other = await raw(query, { u: bob.username });
    expect(await answeredBySingleFetch()).toBe(before + 2);

    expect(again).toEqual(first);
    expect(first).toMatchObject({ status: 200, type: 'application/json; charset=utf-8', cache: 'no-store' });
    expect(JSON.parse(other.body)).toEqual({
      data: { user: { __typename: 'User', id: bob.id, handle: bob.username, displayName: expect.any(String) } },
    });
  });

  it("gives each viewer their own answer: the viewer's assertion goes with every fetch", async () => {
    const [alice, bob] = await Promise.all([signUp('sfm'), signUp('sfm')]);
    const query = `query SingleFetchMe { me { id username } }`;
    await raw(query, {}, alice.token);
    const before = await answeredBySingleFetch();
    const [forAlice, forBob] = await Promise.all([raw(query, {}, alice.token), raw(query, {}, bob.token)]);
    expect(await answeredBySingleFetch()).toBe(before + 2);
    expect(JSON.parse(forAlice.body).data.me).toEqual({ id: alice.id, username: alice.username });
    expect(JSON.parse(forBob.body).data.me).toEqual({ id: bob.id, username: bob.username });
  });

  it('still refuses what depends on the request: variables, the cost limit, the token, errors from the subgraph', async () => {
    const viewer = await signUp('sfr');
    const who = `query SingleFetchRefused($u: String!) { user(username: $u) { id } }`;
    const page = `query SingleFetchPage($n: Int) { feed(first: $n) { edges { node { id } } } }`;
    const me = `query SingleFetchAnonymous { me { id } }`;
    // Learnt, each answered once without errors.
    await raw(who, { u: viewer.username });
    await raw(page, { n: 2 }, viewer.token);
    await raw(me, {}, viewer.token);
    const before = await answeredBySingleFetch();

    const wrongType = await gql(who, { u: 5 });
    expect(codes(wrongType)).toEqual(['BAD_USER_INPUT']);
    const tooMany = await gql(page, { n: 1_000_000 }, { token: viewer.token });
    expect(tooMany.errors?.[0]?.extensions?.code).toMatch(/^(BAD_USER_INPUT|QUERY_TOO_COMPLEX)$/);
    expect(codes(await gql(page, { n: 2 }, { token: 'not-a-token' }))).toEqual(['UNAUTHENTICATED']);
    // The operation's name must be its own: "" would find the learnt text, yet name no operation in it.
    const unnamed = await raw(who, { u: viewer.username }, undefined, '');
    expect([unnamed.status, codes(JSON.parse(unnamed.body))]).toEqual([400, ['BAD_REQUEST']]);
    // The subgraph's errors are the full pipeline's to word, from the answer the fast path already got: asked once.
    const users = inject('subgraphUrls').users;
    const askedForMe = async () => total(await scrape(users), 'twtr_subgraph_operations_total', { field: 'Query.me' });
    const meBefore = await askedForMe();
    const anonymous = await gql(me, {});
    expect(codes(anonymous)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.errors?.[0]?.path).toEqual(['me']);
    expect(await askedForMe()).toBe(meBefore + 1);
    expect(await answeredBySingleFetch()).toBe(before);
  });

  it('leaves a plan of several fetches, or a selection the planner rewrites, to the full pipeline', async () => {
    const author = await signUp('sfs');
    const queries = [
      `query SingleFetchTwo($u: String!) { user(username: $u) { id tweets(first: 1) { edges { node { id } } } } }`,
      `query SingleFetchFragment($u: String!) { user(username: $u) { ...Names } } fragment Names on User { username }`,
    ];
    for (const query of queries) await raw(query, { u: author.username });
    const before = await answeredBySingleFetch();
    for (const query of queries) expect(JSON.parse((await raw(query, { u: author.username })).body).errors).toBeUndefined();
    expect(await answeredBySingleFetch()).toBe(before);
  });
});
