import { request } from 'node:http';

import { describe, expect, inject, it } from 'vitest';

import { uniqueClientAddress } from '../support/client.js';

/**
 * POST /graphql with a plain JSON body is read and admitted by the router's own lane (router/src/graphql-lane.ts),
 * anything else by Express: a body sent both ways gets the same answer, except that the lane refuses one too large
 * without reading the rest.
 */
async function post(body: string, contentType: string, chunked = false) {
  const response = await fetch(inject('routerUrl'), {
    method: 'POST',
    headers: { 'content-type': contentType, 'x-forwarded-for': uniqueClientAddress() },
    // A stream has no length up front: the body arrives chunked, and only its size on arrival can refuse it.
    body: chunked ? new Blob([body]).stream() : body,
    ...(chunked ? { duplex: 'half' } : {}),
  } as RequestInit);
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    correlated: response.headers.get('x-correlation-id') !== null,
    body: await response.json(),
  };
}

const LANE = 'application/json';
// Not the lane's (it takes only "application/json" with no parameter but charset=utf-8): Express reads these.
const EXPRESS = 'application/json; profile=twtr';

describe("the router's lane for JSON POSTs", () => {
  it('answers a query with its correlation id', async () => {
    expect(await post(JSON.stringify({ query: '{ __typename }' }), LANE)).toMatchObject({ status: 200, correlated: true });
  });

  const bodies: [string, string][] = [
    ['a query', JSON.stringify({ query: '{ __typename }' })],
    ['malformed JSON', '{"query": '],
    ['a JSON string, not an object', '"{ __typename }"'],
    ['an empty body', ''],
    ['only whitespace', '  \n '],
    ['an object without a query', '{}'],
    ['a query of the wrong type', JSON.stringify({ query: 42 })],
  ];
  for (const [what, body] of bodies)
    it(`answers ${what} as Express does`, async () => {
      const [lane, express] = await Promise.all([post(body, LANE), post(body, EXPRESS)]);
      // Status, content type, body, and a correlation id on what reached GraphQL (an unreadable body never does).
      expect(lane).toEqual(express);
    });

  it('refuses a body over 1 MiB with 413 BAD_REQUEST, whether its length is declared or not', async () => {
    const huge = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(1024 * 1024) } });
    const answers = await Promise.all([post(huge, LANE), post(huge, LANE, true), post(huge, EXPRESS)]);
    for (const answer of answers)
      expect(answer).toMatchObject({
        status: 413,
        type: 'application/json; charset=utf-8',
        body: { errors: [{ message: 'The request body is larger than 1mb.', extensions: { code: 'BAD_REQUEST' } }] },
      });
  });

  it('refuses a body as soon as it passes 1 MiB and closes its connection, where Express read it to the end first', async () => {
    // 1.1 MiB sent, and the request never ended: what answers, and within how long.
    const answerTo = (contentType: string) =>
      new Promise<{ status?: number; connection?: string } | 'no answer'>((resolve) => {
        const sent = request(inject('routerUrl'), {
          method: 'POST',
          headers: { 'content-type': contentType, 'x-forwarded-for': uniqueClientAddress() },
        });
        const timer = setTimeout(() => {
          sent.destroy();
          resolve('no answer');
        }, 3_000);
        sent.on('response', (response) => {
          clearTimeout(timer);
          resolve({ status: response.statusCode, connection: response.headers.connection });
          response.resume();
          sent.destroy();
        });
        sent.on('error', () => undefined);
        sent.write(`{"query": "{ __typename }", "variables": {"pad": "${'x'.repeat(1.1 * 1024 * 1024)}`);
      });
    const [lane, express] = await Promise.all([answerTo(LANE), answerTo(EXPRESS)]);
    expect(lane).toEqual({ status: 413, connection: 'close' });
    expect(express).toBe('no answer');
  });

  it('takes a body of just under 1 MiB, sent in chunks', async () => {
    const query = '{ __typename }';
    const padded = JSON.stringify({ query, variables: { pad: 'x'.repeat(1024 * 1024 - 100) } });
    expect(await post(padded, 'application/json; charset=UTF-8', true)).toMatchObject({
      status: 200,
      body: { data: { __typename: 'Query' } },
    });
  });
});
