import type { GraphQLDataSource } from '@apollo/gateway';
import { describe, expect, it } from 'vitest';

import type { RequestScope } from '../../platform/identity/request-scope.js';
import { SharedFetches } from '../../router/src/shared-fetches.js';
import { type AnswerBudget, answerBudget, answerTooLarge } from '../../router/src/subgraph-http.js';

const SUPERGRAPH = `
  directive @viewerDependent on FIELD_DEFINITION
  type User { id: ID! username: String! viewerIsFollowing: Boolean! @viewerDependent }
  type Query { me: User }
`;
const ENTITIES = (fields: string) =>
  `query($representations:[_Any!]!){_entities(representations:$representations){...on User{${fields}}}}`;

/** A data source that records who asked what (the subgraph itself is not under test here). */
function recordingDataSource() {
  const calls: { query: string; viewerId: string | null }[] = [];
  const dataSource: GraphQLDataSource<RequestScope> = {
    process: async ({ request, context }) => {
      calls.push({ query: request.query!, viewerId: context.viewerId });
      return { data: { _entities: [{ username: 'alice', viewerIsFollowing: context.viewerId === 'bob' }] } };
    },
  };
  return { calls, dataSource };
}

const ask = (source: GraphQLDataSource<RequestScope>, query: string, viewerId: string) =>
  source.process({
    kind: 'incoming operation',
    request: { query, variables: { representations: [{ __typename: 'User', id: 'a' }] } },
    context: { viewerId, clientAddress: null, correlationId: 'c' },
  } as never);

describe('shared entity fetches for subscription events', () => {
  it('makes a viewer-independent fetch once, anonymously, and gives each subscriber its own copy', async () => {
    const { calls, dataSource } = recordingDataSource();
    const shared = new SharedFetches(SUPERGRAPH).wrap('users', dataSource);
    const answers = await Promise.all(['bob', 'carol', 'dave'].map((viewerId) => ask(shared, ENTITIES('username'), viewerId)));
    expect(calls).toEqual([{ query: ENTITIES('username'), viewerId: null }]);
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0]).not.toBe(answers[1]);
  });

  it('fetches per viewer when a field depends on the viewer', async () => {
    const { calls, dataSource } = recordingDataSource();
    const shared = new SharedFetches(SUPERGRAPH).wrap('users', dataSource);
    const [forBob, forCarol] = await Promise.all(
      ['bob', 'carol'].map((viewerId) => ask(shared, ENTITIES('username viewerIsFollowing'), viewerId)),
    );
    expect(calls.map((call) => call.viewerId)).toEqual(['bob', 'carol']);
    expect([forBob.data, forCarol.data]).toEqual([
      { _entities: [{ username: 'alice', viewerIsFollowing: true }] },
      { _entities: [{ username: 'alice', viewerIsFollowing: false }] },
    ]);
  });

  it('asks again once the answer is older than its time to live', async () => {
    const { calls, dataSource } = recordingDataSource();
    const shared = new SharedFetches(SUPERGRAPH, { ttlMs: 5 }).wrap('users', dataSource);
    await ask(shared, ENTITIES('username'), 'bob');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await ask(shared, ENTITIES('username'), 'bob');
    expect(calls).toHaveLength(2);
  });

  it('never shares when turned off', async () => {
    const { calls, dataSource } = recordingDataSource();
    const shared = new SharedFetches(SUPERGRAPH, { ttlMs: 0 }).wrap('users', dataSource);
    await Promise.all(['bob', 'carol'].map((viewerId) => ask(shared, ENTITIES('username'), viewerId)));
    expect(calls.map((call) => call.viewerId)).toEqual(['bob', 'carol']);
  });
});

describe('answers kept for sharing', () => {
  /** A subgraph answering each user with `bytes` of username, its body's size in `http` as ViewerDataSource reads it. */
  function answering(bytes: number) {
    const askedFor: string[] = [];
    const username = 'x'.repeat(bytes);
    const dataSource: GraphQLDataSource<RequestScope> = {
      process: async ({ request }) => {
        askedFor.push(request.variables!.representations[0].id);
        return { data: { _entities: [{ username }] }, http: { bytes } as never };
      },
    };
    return { askedFor, dataSource };
  }
  const askAbout = (source: GraphQLDataSource<RequestScope>, userId: string) =>
    source.process({
      kind: 'incoming operation',
      request: { query: ENTITIES('username'), variables: { representations: [{ __typename: 'User', id: userId }] } },
      context: { viewerId: 'bob', clientAddress: null, correlationId: 'c' },
    } as never);
  const userIds = (count: number) => Array.from({ length: count }, (_, n) => `u${n}`);

  it('are weighed by their bytes: an answer of ~1 MiB is shared while in flight, never kept afterwards', async () => {
    const { askedFor, dataSource } = answering(1 << 20);
    // A minute to live: anything asked again below was dropped for its weight, not its age.
    const shared = new SharedFetches(SUPERGRAPH, { ttlMs: 60_000 }).wrap('users', dataSource);
    await Promise.all([askAbout(shared, 'u0'), askAbout(shared, 'u0')]);
    expect(askedFor).toEqual(['u0']);
    for (const userId of userIds(20)) await askAbout(shared, userId);
    // Over an entry's share of the 16 MiB: kept by their keys' weight alone, these 20 MiB would all have been shared.
    expect(askedFor).toEqual(['u0', ...userIds(20)]);
  });

  it('stay within 16 MiB of answers, the oldest making room', async () => {
    const { askedFor, dataSource } = answering(200 << 10);
    const shared = new SharedFetches(SUPERGRAPH, { ttlMs: 60_000 }).wrap('users', dataSource);
    for (const userId of userIds(100)) await askAbout(shared, userId);
    await askAbout(shared, 'u99');
    await askAbout(shared, 'u0');
    // 100 answers of 200 KiB are 20 MiB: the first ones made room for the last.
    expect(askedFor).toEqual([...userIds(100), 'u0']);
  });
});

describe('identical fetches in flight for queries over HTTP', () => {
  const askIn = (source: GraphQLDataSource<RequestScope>, operation: string, query: string, viewerId: string | null) =>
    source.process({
      kind: 'incoming operation',
      request: { query, variables: { representations: [{ __typename: 'User', id: 'a' }] } },
      incomingRequestContext: { operation: { operation } },
      context: { viewerId, clientAddress: null, correlationId: 'c' },
    } as never);

  it('shares viewer-independent entity fetches and anonymous queries while in flight, never afterwards', async () => {
    const { calls, dataSource } = recordingDataSource();
    const inFlight = new SharedFetches(SUPERGRAPH, { inFlightOnly: true }).wrap('users', dataSource);
    await Promise.all(['bob', 'carol'].map((viewerId) => askIn(inFlight, 'query', ENTITIES('username'), viewerId)));
    await Promise.all([null, null].map((viewerId) => askIn(inFlight, 'query', '{ me { id } }', viewerId)));
    expect(calls).toEqual([
      { query: ENTITIES('username'), viewerId: null },
      { query: '{ me { id } }', viewerId: null },
    ]);
    await askIn(inFlight, 'query', ENTITIES('username'), 'bob');
    expect(calls).toHaveLength(3);
  });

  it("never shares a mutation's fetches, a viewer's own root fetch, or a viewer-dependent field", async () => {
    const { calls, dataSource } = recordingDataSource();
    const inFlight = new SharedFetches(SUPERGRAPH, { inFlightOnly: true }).wrap('users', dataSource);
    await Promise.all([
      askIn(inFlight, 'mutation', ENTITIES('username'), 'bob'),
      askIn(inFlight, 'mutation', ENTITIES('username'), 'bob'),
      askIn(inFlight, 'query', '{ me { id } }', 'bob'),
      askIn(inFlight, 'query', '{ me { id } }', 'carol'),
      askIn(inFlight, 'query', ENTITIES('username viewerIsFollowing'), 'bob'),
      askIn(inFlight, 'query', ENTITIES('username viewerIsFollowing'), 'carol'),
    ]);
    expect(calls.map((call) => call.viewerId)).toEqual(['bob', 'bob', 'bob', 'carol', 'bob', 'carol']);
  });
});

describe('a request joining an answer in flight', () => {
  const MiB = 1 << 20;
  /** A subgraph answering after `ms` with `bytes` of username; a request's budget is charged only by what it reads. */
  function slowlyAnswering(bytes: number, ms = 20) {
    let asked = 0;
    const dataSource: GraphQLDataSource<RequestScope> = {
      process: async ({ context }) => {
        asked++;
        await new Promise((resolve) => setTimeout(resolve, ms));
        const budget = (context as { answerBudget?: AnswerBudget }).answerBudget;
        if (budget) {
          budget.left -= bytes;
          if (budget.left < 0) {
            budget.exceeded = true;
            throw answerTooLarge(budget);
          }
        }
        return { data: { _entities: [{ username: 'x'.repeat(bytes) }] }, http: { bytes } as never };
      },
    };
    return { asked: () => asked, dataSource };
  }
  const askWith = (source: GraphQLDataSource<RequestScope>, budget: AnswerBudget) =>
    source.process({
      kind: 'incoming operation',
      request: { query: ENTITIES('username'), variables: { representations: [{ __typename: 'User', id: 'a' }] } },
      incomingRequestContext: { operation: { operation: 'query' } },
      context: { viewerId: 'bob', clientAddress: null, correlationId: 'c', answerBudget: budget },
    } as never);

  it('is charged the copy it gets, as if it had read it', async () => {
    const { asked, dataSource } = slowlyAnswering(MiB);
    const inFlight = new SharedFetches(SUPERGRAPH, { inFlightOnly: true }).wrap('users', dataSource);
    const [first, joiner] = [answerBudget(4 * MiB), answerBudget(4 * MiB)];
    joiner.left = 3 * MiB;
    await Promise.all([askWith(inFlight, first), askWith(inFlight, joiner)]);
    expect(asked()).toBe(1);
    expect([first.left, joiner.left]).toEqual([3 * MiB, 2 * MiB]);
  });

  it('is refused with RESPONSE_TOO_LARGE when the copy would take it over its budget, the first asker answered', async () => {
    const { dataSource } = slowlyAnswering(MiB);
    const inFlight = new SharedFetches(SUPERGRAPH, { inFlightOnly: true }).wrap('users', dataSource);
    const [first, joiner] = [answerBudget(4 * MiB), answerBudget(4 * MiB)];
    joiner.left = MiB / 2;
    const [answered, refused] = await Promise.allSettled([askWith(inFlight, first), askWith(inFlight, joiner)]);
    expect(answered.status).toBe('fulfilled');
    expect((refused as PromiseRejectedResult).reason.extensions.code).toBe('RESPONSE_TOO_LARGE');
    expect([first.exceeded, joiner.exceeded]).toEqual([false, true]);
  });

  it("fetches on its own budget what the first asker's budget refused", async () => {
    const { asked, dataSource } = slowlyAnswering(MiB);
    const inFlight = new SharedFetches(SUPERGRAPH, { inFlightOnly: true }).wrap('users', dataSource);
    // The first asker's request spent most of its budget on other fetches.
    const [first, joiner] = [answerBudget(4 * MiB), answerBudget(4 * MiB)];
    first.left = MiB / 2;
    const [refused, answered] = await Promise.allSettled([askWith(inFlight, first), askWith(inFlight, joiner)]);
    expect((refused as PromiseRejectedResult).reason.extensions.code).toBe('RESPONSE_TOO_LARGE');
    expect(answered.status).toBe('fulfilled');
    expect(asked()).toBe(2);
    expect([first.exceeded, joiner.exceeded, joiner.left]).toEqual([true, false, 3 * MiB]);
  });
});
