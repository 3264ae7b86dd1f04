import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { hostileHttpRequests, type HttpCase } from '../fixtures/hostile-requests.js';
import { codes, eventually, gql, type GraphQLResponse, ok, uniqueClientAddress, uniqueUsername } from '../support/client.js';
import { TEST_ENV } from '../support/env.js';
import { startSystemProcesses, type SystemProcesses } from '../support/processes.js';

/**
 * A corpus of hostile requests sent through a router to the whole system running as separate processes, as
 * `npm start` runs it: every request is answered cleanly, no process dies, and memory comes back.
 */
let system: SystemProcesses;
let token: string;

beforeAll(async () => {
  system = await startSystemProcesses({ ...process.env, ...TEST_ENV });
  const username = uniqueUsername('corpus');
  const signedUp = await ok(
    'mutation ($u: String!) { signUp(username: $u, password: "correct horse battery", displayName: "Corpus") { token } }',
    { u: username },
    { url: system.routerUrl, clientAddress: uniqueClientAddress() },
  );
  token = signedUp.signUp.token;
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

interface Outcome {
  name: string;
  clean: boolean;
  refused: boolean;
  detail: string;
  ms: number;
}

/** Codes a client may see; anything else (or an error without a code) is a defect. */
const isClientCode = (code: unknown) => typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR';

async function sendHttp(request: HttpCase): Promise<Outcome> {
  const started = performance.now();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-forwarded-for': uniqueClientAddress(),
    ...(request.signedIn ? { authorization: `Bearer ${token}` } : {}),
    ...request.headers,
  };
  let status: number;
  let text: string;
  try {
    const response = await fetch(`${system.routerUrl}${request.search ?? ''}`, {
      method: request.method ?? 'POST',
      headers,
      body: request.method === 'GET' ? undefined : (request.body as BodyInit | undefined),
      signal: AbortSignal.timeout(15_000),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    return {
      name: request.name,
      clean: false,
      refused: false,
      detail: `no answer: ${(error as Error).message}`,
      ms: performance.now() - started,
    };
  }
  const ms = performance.now() - started;
  if (status >= 500)
    return { name: request.name, clean: false, refused: false, detail: `HTTP ${status}: ${text.slice(0, 200)}`, ms };
  let body: GraphQLResponse;
  try {
    body = JSON.parse(text);
  } catch {
    // A 4xx may come from below GraphQL (Node's header limit, Express) with no GraphQL body.
    return {
      name: request.name,
      clean: status >= 400,
      refused: true,
      detail: `HTTP ${status} without JSON: ${text.slice(0, 100)}`,
      ms,
    };
  }
  const errorCodes = codes(body);
  const clean = errorCodes.every(isClientCode);
  return {
    name: request.name,
    clean,
    refused: status >= 400 || errorCodes.length > 0,
    detail: `HTTP ${status} ${JSON.stringify(errorCodes)}`,
    ms,
  };
}

interface WsCase {
  name: string;
  /** Odd but valid: may be answered with data. */
  mayAnswer?: boolean;
  run(): Promise<{ closeCode?: number; errors?: readonly { extensions?: { code?: unknown } }[]; data?: unknown }>;
}

const CLEAN_CLOSE = (code: number) => code === 1000 || code === 1009 || (code >= 4400 && code < 4500);

/** What a raw socket answers to these messages: the first reply, or how it was closed. */
function rawExchange(messages: (string | Buffer)[], options: { init?: boolean } = {}): WsCase['run'] {
  return () =>
    new Promise((resolve) => {
      const socket = new WebSocket(system.routerUrl.replace(/^http/, 'ws'), 'graphql-transport-ws', {
        headers: { 'x-forwarded-for': uniqueClientAddress() },
      });
      const timer = setTimeout(() => {
        socket.terminate();
        resolve({ closeCode: -1 });
      }, 10_000);
      socket.on('open', () => {
        if (options.init) socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
        else for (const message of messages) socket.send(message);
      });
      socket.on('message', (data) => {
        const message = JSON.parse(String(data));
        if (message.type === 'connection_ack' && options.init) {
          for (const next of messages) socket.send(next);
          return;
        }
        if (message.type === 'ping' || message.type === 'pong') return;
        clearTimeout(timer);
        socket.close();
        resolve(
          message.type === 'error'
            ? { errors: message.payload }
            : message.type === 'next'
              ? { errors: message.payload.errors, data: message.payload.data }
              : { data: message.type },
        );
      });
      socket.on('close', (code) => {
        clearTimeout(timer);
        resolve({ closeCode: code });
      });
      socket.on('error', () => undefined);
    });
}

/** One operation through a graphql-ws client of the router (signed in). */
function operation(query: string, variables: Record<string, unknown> = {}): WsCase['run'] {
  return async () => {
    const client = createClient({
      url: system.routerUrl.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
    });
    const iterator = client.iterate({ query, variables });
    try {
      const first = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000)),
      ]);
      return { errors: (first.value as GraphQLResponse)?.errors, data: (first.value as GraphQLResponse)?.data };
    } catch (error) {
      if (Array.isArray(error)) return { errors: error };
      if ((error as CloseEvent)?.code) return { closeCode: (error as CloseEvent).code };
      throw error;
    } finally {
      await iterator.return?.();
      await client.dispose();
    }
  };
}

function hostileWebSocketCases(): WsCase[] {
  const subscribe = (payload: unknown, id = '1') => JSON.stringify({ id, type: 'subscribe', payload });
  const huge = 'x'.repeat(500_000);
  // JSON no JSON.stringify could write back without overflowing its stack.
  const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
  const nested = (levels: number) =>
    `subscription { feedItemAdded { author { ${'followers(first: 100) { edges { node { '.repeat(levels)} id ${'} } } '.repeat(levels)} } } }`;
  return [
    { name: 'text that is not JSON', run: rawExchange(['not json']) },
    { name: 'a binary frame', run: rawExchange([Buffer.from([0, 1, 2, 3])]) },
    { name: 'a JSON array', run: rawExchange(['[]']) },
    { name: 'an unknown message type', run: rawExchange([JSON.stringify({ type: 'hello' })]) },
    { name: 'subscribe before connection_init', run: rawExchange([subscribe({ query: '{ __typename }' })]) },
    { name: 'connection_init without a token', run: rawExchange([JSON.stringify({ type: 'connection_init' })]) },
    {
      name: 'connection_init with a forged token',
      run: rawExchange([JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer a.b.c' } })]),
    },
    {
      name: 'connection_init with a 500 KB token',
      run: rawExchange([JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${huge}` } })]),
    },
    {
      name: 'connection_init with a payload that is a string',
      run: rawExchange([JSON.stringify({ type: 'connection_init', payload: 'x' })]),
    },
    {
      name: 'a 2 MiB message',
      run: rawExchange([JSON.stringify({ type: 'connection_init', payload: { pad: 'x'.repeat(2 * 1024 * 1024) } })]),
    },
    {
      name: 'connection_init twice',
      run: rawExchange([JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })], {
        init: true,
      }),
    },
    { name: 'subscribe without a payload', run: rawExchange([JSON.stringify({ id: '1', type: 'subscribe' })], { init: true }) },
    { name: 'subscribe without a query', run: rawExchange([subscribe({})], { init: true }) },
    {
      name: 'subscribe with a numeric id',
      run: rawExchange([JSON.stringify({ id: 1, type: 'subscribe', payload: { query: '{ __typename }' } })], { init: true }),
    },
    {
      name: 'subscribe with a 100 KB id',
      mayAnswer: true,
      run: rawExchange([subscribe({ query: '{ __typename }' }, 'i'.repeat(100_000))], { init: true }),
    },
    {
      name: 'the same id twice',
      run: rawExchange(
        [
          subscribe({ query: 'subscription { feedItemAdded { id } }' }),
          subscribe({ query: 'subscription { feedItemAdded { id } }' }),
        ],
        { init: true },
      ),
    },
    {
      name: 'complete for an unknown id, then a query',
      mayAnswer: true,
      run: rawExchange([JSON.stringify({ id: 'zz', type: 'complete' }), subscribe({ query: '{ __typename }' }, '2')], {
        init: true,
      }),
    },
    {
      name: 'variables that are a string',
      run: rawExchange([subscribe({ query: '{ __typename }', variables: 'x' })], { init: true }),
    },
    { name: 'a malformed document', run: operation('subscription {') },
    { name: 'an unknown field', run: operation('subscription { nope }') },
    { name: 'two subscription fields', run: operation('subscription { feedItemAdded { id } again: feedItemAdded { id } }') },
    { name: 'a costly subscription', run: operation(nested(2)) },
    {
      name: 'a deep subscription',
      run: operation(
        `subscription { feedItemAdded { ${'author { followers(first: 1) { edges { node { '.repeat(3)} id ${'} } } } '.repeat(3)} } }`,
      ),
    },
    { name: '2,000 aliases', run: operation(`{ ${Array.from({ length: 2_000 }, (_, i) => `a${i}: me { id }`).join(' ')} }`) },
    { name: '31 aliases', run: operation(`{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ')} }`) },
    {
      name: 'a huge tweet over the socket',
      run: operation('mutation ($t: String!) { postTweet(text: $t) { id } }', { t: huge }),
    },
    { name: 'a huge username over the socket', run: operation('query ($u: String!) { user(username: $u) { id } }', { u: huge }) },
    {
      name: 'a variable of the wrong type',
      run: operation('query ($n: Int) { feed(first: $n) { edges { cursor } } }', { n: 'many' }),
    },
    {
      name: 'a garbage cursor over the socket',
      run: operation('query ($a: String) { feed(after: $a) { edges { cursor } } }', { a: '!!!' }),
    },
    {
      name: 'undeclared variables nested 200,000 deep',
      mayAnswer: true,
      run: rawExchange([`{"id":"1","type":"subscribe","payload":{"query":"{ __typename }","variables":{"v":${deep}}}}`], {
        init: true,
      }),
    },
    {
      name: 'a declared variable nested 200,000 deep',
      run: rawExchange(
        [
          `{"id":"1","type":"subscribe","payload":{"query":"query ($u: String!) { user(username: $u) { id } }","variables":{"u":${deep}}}}`,
        ],
        { init: true },
      ),
    },
    {
      name: 'a subscription with a 1 MiB alias',
      run: operation(`subscription { ${'a'.repeat(1024 * 1024 - 200)}: feedItemAdded { id } }`),
    },
    {
      name: '64 queries at once on one socket',
      mayAnswer: true,
      run: rawExchange(
        Array.from({ length: 64 }, (_, id) => subscribe({ query: '{ __typename }' }, String(id))),
        { init: true },
      ),
    },
    {
      name: 'a fragment cycle',
      run: operation(
        'fragment A on User { ...B } fragment B on User { ...A } subscription { feedItemAdded { author { ...A } } }',
      ),
    },
  ];
}

describe('a corpus of hostile requests', () => {
  it('answers every one cleanly, over HTTP and websockets, with no process lost and memory back where it was', async () => {
    // Warm up with ordinary traffic so the baseline is of a running system, not a cold one.
    for (let i = 0; i < 20; i++) {
      await gql(
        '{ me { username followerCount tweets(first: 5) { edges { node { text } } } } }',
        {},
        { url: system.routerUrl, token },
      );
    }
    const rssBefore = system.rssMiB();
    const pidsBefore = Object.fromEntries(Object.entries(system.children).map(([name, child]) => [name, child.pid]));

    const httpCases = hostileHttpRequests();
    const outcomes: Outcome[] = [];
    // A few at a time: the point is hostility, not load.
    for (let index = 0; index < httpCases.length; index += 4) {
      outcomes.push(...(await Promise.all(httpCases.slice(index, index + 4).map(sendHttp))));
    }
    for (const request of httpCases) {
      const outcome = outcomes.find((candidate) => candidate.name === request.name)!;
      if (request.expect === 'refused' && outcome.clean && !outcome.refused) outcome.clean = false;
    }
    for (const wsCase of hostileWebSocketCases()) {
      const started = performance.now();
      const result = await wsCase.run();
      const clean =
        result.closeCode !== undefined
          ? CLEAN_CLOSE(result.closeCode)
          : (result.errors ?? []).every((error) => isClientCode(error.extensions?.code)) &&
            ((result.errors?.length ?? 0) > 0 || !!wsCase.mayAnswer);
      outcomes.push({
        name: `ws: ${wsCase.name}`,
        clean,
        refused: true,
        detail: JSON.stringify(result).slice(0, 200),
        ms: performance.now() - started,
      });
    }

    // The system still answers, nothing restarted, and memory settles back.
    expect((await gql('{ __typename }', {}, { url: system.routerUrl })).data).toEqual({ __typename: 'Query' });
    expect(system.exited()).toEqual([]);
    expect(Object.fromEntries(Object.entries(system.children).map(([name, child]) => [name, child.pid]))).toEqual(pidsBefore);
    const unclean = outcomes.filter((o) => !o.clean).map((o) => `${o.name}: ${o.detail}`);
    expect(outcomes.length).toBeGreaterThanOrEqual(200);
    expect(unclean).toEqual([]);

    // V8 gives freed memory back lazily (its memory reducer runs once allocation calms down): poll, with a deadline.
    const settledAt = performance.now();
    const rssAfter = await eventually(
      async () => {
        const now = system.rssMiB();
        for (const [name, before] of Object.entries(rssBefore)) {
          expect(now[name], `${name} RSS ${before} → ${now[name]} MiB`).toBeLessThanOrEqual(before * 1.2);
        }
        return now;
      },
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );

    const slowest = outcomes.reduce((a, b) => (a.ms > b.ms ? a : b));
    console.info(
      `corpus: ${outcomes.length} requests (${httpCases.length} HTTP), ${outcomes.filter((o) => o.clean).length} answered cleanly; ` +
        `slowest ${Math.round(slowest.ms)} ms (${slowest.name}); RSS MiB before ${JSON.stringify(rssBefore)}, ` +
        `${Math.round((performance.now() - settledAt) / 1000)} s later ${JSON.stringify(rssAfter)}`,
    );
  }, 300_000);
});
