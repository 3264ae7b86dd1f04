import { buildSchema, type ExecutionResult, GraphQLError } from 'graphql';
import { makeServer, MessageType } from 'graphql-ws';
import { describe, expect, it } from 'vitest';

import { ErrorCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/logging.js';
import { guardSubscription } from '../../router/src/websocket.js';

const schema = buildSchema('type Query { ok: Boolean } type Subscription { ticks: Int }');

/**
 * A client's whole subscription to `events` through graphql-ws's own protocol engine (what the router's sockets run),
 * each event passing guardSubscription as on the router: what the client was sent, what was logged, slots freed.
 */
async function subscribeTo(events: AsyncIterableIterator<ExecutionResult>) {
  const sent: { type: string; payload?: unknown }[] = [];
  const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    void logged.push({ level, message, fields });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  let released = 0;
  const context = { correlationId: 'ticket-7', release: () => released++ };
  const server = makeServer({ schema, subscribe: () => guardSubscription(events, context as never, { logger }) });
  let receive: (data: string) => Promise<void> = async () => {};
  server.opened(
    {
      protocol: 'graphql-transport-ws',
      send: (data) => void sent.push(JSON.parse(data)),
      close: () => {},
      onMessage: (handle) => void (receive = handle),
    },
    {},
  );
  await receive(JSON.stringify({ type: MessageType.ConnectionInit }));
  // Handled once the subscription is over: graphql-ws reads the whole iterator inside the subscribe message's handler.
  await receive(JSON.stringify({ type: MessageType.Subscribe, id: '1', payload: { query: 'subscription { ticks }' } }));
  return { sent: sent.map(({ type, payload }) => [type, payload]), logged, released };
}

async function* ticksThen(failure: unknown): AsyncIterableIterator<ExecutionResult> {
  yield { data: { ticks: 1 } };
  throw failure;
}

describe('a live subscription failing after it started', () => {
  it('reaches its client masked and coded, logged in one line without a stack', async () => {
    const { sent, logged, released } = await subscribeTo(ticksThen(new Error('boom')));
    expect(sent).toEqual([
      [MessageType.ConnectionAck, undefined],
      [MessageType.Next, { data: { ticks: 1 } }],
      [MessageType.Error, [{ message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } }]],
    ]);
    expect(logged).toEqual([
      { level: 'error', message: 'unexpected error', fields: { error: 'boom', path: undefined, correlationId: 'ticket-7' } },
    ]);
    expect(released).toBe(1);
  });

  it("keeps a coded error of ours as it is, and logs none of the client's", async () => {
    const gaveUp = new GraphQLError('The live feed is unavailable right now; subscribe again shortly.', {
      extensions: { code: ErrorCode.SERVICE_UNAVAILABLE },
    });
    const { sent, logged } = await subscribeTo(ticksThen(gaveUp));
    expect(sent.at(-1)).toEqual([
      MessageType.Error,
      [{ message: gaveUp.message, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } }],
    ]);
    expect(logged).toEqual([]);
  });
});
