import { buildSchema, type ExecutionResult, type GraphQLObjectType, parse } from 'graphql';
import { describe, expect, it, vi } from 'vitest';

import { AsyncQueue } from '../../platform/async-iterators.js';
import { subscribeSharingEvents } from '../../platform/http/shared-events.js';

const typeDefs = `
  directive @viewerDependent on FIELD_DEFINITION
  type Query { unused: Boolean }
  type Item { id: ID! score(plus: Int = 0): Int! mine: Boolean! @viewerDependent }
  type Subscription { itemAdded: Item! }
`;

interface Context {
  viewer: string;
  events: AsyncQueue<{ id: string }>;
}

/** A schema whose item fields count how often they are executed. */
function itemSchema() {
  const schema = buildSchema(typeDefs);
  const executions = { score: 0, mine: 0 };
  const subscription = schema.getSubscriptionType()!.getFields().itemAdded;
  subscription.subscribe = (_root, _args, context: Context) => context.events;
  subscription.resolve = (event) => event;
  const item = (schema.getType('Item') as GraphQLObjectType).getFields();
  item.score.resolve = (_item, { plus }: { plus: number }) => {
    executions.score++;
    return 10 + plus;
  };
  item.mine.resolve = (_item, _args, context: Context) => {
    executions.mine++;
    return context.viewer === 'alice';
  };
  return { schema, executions };
}

describe('subscription events shared between subscribers', () => {
  const subscribe = subscribeSharingEvents(parse(typeDefs));
  const subscriber = async (
    schema: ReturnType<typeof itemSchema>['schema'],
    query: string,
    viewer: string,
    variables = {},
    operationName?: string,
  ) => {
    const events = new AsyncQueue<{ id: string }>(10, () => {});
    const stream = (await subscribe({
      schema,
      document: documents(query),
      variableValues: variables,
      operationName,
      contextValue: { viewer, events } satisfies Context,
    })) as AsyncIterableIterator<ExecutionResult>;
    return { events, stream };
  };
  // One document per operation text, as the subgraph's validatedDocuments hands them out.
  const parsed = new Map<string, ReturnType<typeof parse>>();
  const documents = (query: string) => parsed.get(query) ?? parsed.set(query, parse(query)).get(query)!;

  it('executes an event once for every subscriber with the same operation, and again for a new event', async () => {
    const { schema, executions } = itemSchema();
    const query = 'subscription { itemAdded { id score } }';
    const [alice, bob] = [await subscriber(schema, query, 'alice'), await subscriber(schema, query, 'bob')];
    const first = { id: 'i1' };
    alice.events.push(first);
    bob.events.push(first);
    const [a, b] = [await alice.stream.next(), await bob.stream.next()];
    expect(a.value).toEqual({ data: { itemAdded: { id: 'i1', score: 10 } } });
    expect(b.value).toBe(a.value);
    expect(executions.score).toBe(1);

    alice.events.push({ id: 'i2' });
    expect((await alice.stream.next()).value).toEqual({ data: { itemAdded: { id: 'i2', score: 10 } } });
    expect(executions.score).toBe(2);
  });

  it('executes per subscriber, in its own context, an operation selecting a field that depends on the viewer', async () => {
    const { schema, executions } = itemSchema();
    const query = 'subscription { itemAdded { id ...Mine } } fragment Mine on Item { mine }';
    const [alice, bob] = [await subscriber(schema, query, 'alice'), await subscriber(schema, query, 'bob')];
    const event = { id: 'i1' };
    alice.events.push(event);
    bob.events.push(event);
    expect((await alice.stream.next()).value).toEqual({ data: { itemAdded: { id: 'i1', mine: true } } });
    expect((await bob.stream.next()).value).toEqual({ data: { itemAdded: { id: 'i1', mine: false } } });
    expect(executions.mine).toBe(2);
  });

  it('does not share between different variables, documents or operations', async () => {
    const { schema, executions } = itemSchema();
    const byVariable = 'subscription ($plus: Int) { itemAdded { score(plus: $plus) } }';
    const twoOperations = 'subscription A { itemAdded { score } } subscription B { itemAdded { score(plus: 5) } }';
    const subscribers = [
      await subscriber(schema, byVariable, 'alice', { plus: 1 }),
      await subscriber(schema, byVariable, 'bob', { plus: 2 }),
      await subscriber(schema, 'subscription { itemAdded { score } }', 'carol'),
      await subscriber(schema, 'subscription { itemAdded { score(plus: 3) } }', 'dave'),
      await subscriber(schema, twoOperations, 'erin', {}, 'A'),
      await subscriber(schema, twoOperations, 'frank', {}, 'B'),
    ];
    const event = { id: 'i1' };
    for (const { events } of subscribers) events.push(event);
    const scores = [];
    for (const { stream } of subscribers) scores.push(((await stream.next()).value as ExecutionResult).data);
    expect(scores.map((data) => (data as { itemAdded: { score: number } }).itemAdded.score)).toEqual([11, 12, 10, 13, 10, 15]);
    expect(executions.score).toBe(6);
  });

  it('executes an event again for a subscriber that takes it more than a second after the first', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const { schema, executions } = itemSchema();
      const query = 'subscription { itemAdded { score } }';
      const [alice, bob] = [await subscriber(schema, query, 'alice'), await subscriber(schema, query, 'bob')];
      const event = { id: 'i1' };
      alice.events.push(event);
      await alice.stream.next();
      vi.advanceTimersByTime(1_000);
      bob.events.push(event);
      await bob.stream.next();
      expect(executions.score).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
