import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';

import { loadConfig } from '../../platform/config.js';
import { REQUEST_ASSERTION_HEADER, signRequestAssertion } from '../../platform/identity/tokens.js';
import { createLogger } from '../../platform/logging.js';
import type { RunningServer } from '../../platform/runtime.js';
import { startRouter } from '../../router/src/server.js';
import { codes, eventually, feedOf, follow, gql, ok, postTweet, sharedSubgraphUrls, signUp } from '../support/client.js';

describe('the trust boundary', () => {
  it('drops a viewer header sent by a client to the router', async () => {
    const victim = await signUp('victim');
    const forged = signRequestAssertion(
      { viewerId: victim.id, clientAddress: null },
      'a guessed secret that is long enough to sign',
      'users',
    );
    const response = await gql(`{ me { id } }`, {}, { headers: { [REQUEST_ASSERTION_HEADER]: forged } });
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses a forged viewer header sent straight to a subgraph', async () => {
    const victim = await signUp('victim');
    const forged = signRequestAssertion(
      { viewerId: victim.id, clientAddress: null },
      'a guessed secret that is long enough to sign',
      'users',
    );
    const response = await gql(
      `{ me { id } }`,
      {},
      { url: inject('subgraphUrls').users, headers: { [REQUEST_ASSERTION_HEADER]: forged } },
    );
    expect(codes(response)).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses forged identities on websockets straight to a subgraph', async () => {
    const victim = await signUp('victim');
    const forged = signRequestAssertion(
      { viewerId: victim.id, clientAddress: null },
      'a guessed secret that is long enough to sign',
      'feed',
    );
    const feedSocket = inject('subgraphUrls').feed.replace(/^http/, 'ws');
    const closeCode = (connectionParams?: Record<string, unknown>) =>
      new Promise<number>((resolve) => {
        const client = createClient({
          url: feedSocket,
          webSocketImpl: WebSocket,
          connectionParams,
          lazy: false,
          retryAttempts: 0,
          onNonLazyError: () => undefined,
          on: { closed: (event) => resolve((event as CloseEvent).code) },
        });
        void client;
      });
    expect(await closeCode({ assertion: forged })).toBe(4403);
    expect(await closeCode()).toBe(4403);

    // A connection the router opened (its own assertion) still cannot carry a forged viewer.
    const routerAssertion = signRequestAssertion(
      { viewerId: null, clientAddress: null },
      loadConfig().INTERNAL_IDENTITY_SECRET,
      'feed',
    );
    const client = createClient({
      url: feedSocket,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { assertion: routerAssertion },
    });
    try {
      // graphql-ws rejects with the errors of a refused subscription (or yields them, for errors during execution).
      const errorCodes = async (extensions?: Record<string, unknown>, query = 'subscription { feedItemAdded { id } }') => {
        try {
          const result = await client.iterate({ query, extensions }).next();
          return codes(result.value as never);
        } catch (errors) {
          return codes({ errors } as never);
        }
      };
      expect(await errorCodes({ assertion: forged })).toEqual(['UNAUTHENTICATED']);
      expect(await errorCodes()).toEqual(['UNAUTHENTICATED']);
      // Operations are checked against the subgraph's schema (once per text) before anything runs.
      expect(await errorCodes(undefined, 'subscription { noSuchField }')).toEqual(['GRAPHQL_VALIDATION_FAILED']);
      expect(await errorCodes(undefined, 'subscription {')).toEqual(['GRAPHQL_PARSE_FAILED']);
    } finally {
      await client.dispose();
    }
  });

  it('serves Apollo Sandbox pointed at its own endpoint', async () => {
    const response = await fetch(inject('routerUrl'), { headers: { accept: 'text/html' } });
    const page = await response.text();
    expect(response.status).toBe(200);
    expect(page).toContain('EmbeddedSandbox');
    // Sandbox's endpoint (and so its graphql-ws subscription URL) is the page's own address: this /graphql.
    expect(page).toContain('initialEndpoint = window.location.href');
    expect(page).toContain('"runTelemetry":false');
  });
});

describe('batched entity fetches', () => {
  let proxy: Server;
  let router: RunningServer;
  const usersRequests: string[] = [];

  // A router whose users subgraph sits behind a counting proxy, to see how many requests a feed page costs.
  beforeAll(async () => {
    const usersUrl = new URL(inject('subgraphUrls').users);
    proxy = createServer(async (request, response) => {
      const chunks: Buffer[] = [];
      for await (const chunk of request) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks).toString();
      usersRequests.push(body);
      const forwarded = Object.fromEntries(
        ['content-type', REQUEST_ASSERTION_HEADER].flatMap((name) =>
          request.headers[name] ? [[name, String(request.headers[name])]] : [],
        ),
      );
      const upstream = await fetch(usersUrl, { method: 'POST', headers: forwarded, body });
      response.writeHead(upstream.status, { 'content-type': 'application/json' });
      response.end(await upstream.text());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const config = {
      ...loadConfig(),
      ...sharedSubgraphUrls(),
      USERS_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql`,
    };
    router = await startRouter(config, createLogger('error'), 0);
  });

  afterAll(async () => {
    await router?.stop();
    proxy?.close();
  });

  it('resolves the authors of a whole feed page in one request to the users subgraph', async () => {
    const reader = await signUp('reader');
    const authors = await Promise.all([1, 2, 3, 4, 5].map((n) => signUp(`auth${n}`)));
    for (const author of authors) await follow(reader, author);
    for (const author of authors) await postTweet(author, `from ${author.username}`);
    await eventually(async () => expect(await feedOf(reader)).toHaveLength(5));

    usersRequests.length = 0;
    const { feed } = await ok(
      `{ feed { edges { node { text author { username displayName } } } } }`,
      {},
      { token: reader.token, url: router.url },
    );
    expect(feed.edges.map((edge: any) => edge.node.author.username).sort()).toEqual(authors.map((a) => a.username).sort());
    expect(usersRequests).toHaveLength(1);
    expect(usersRequests[0]).toContain('_entities');
  });
});
