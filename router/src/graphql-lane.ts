import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

import type { Request, RequestHandler, Response } from 'express';

import { MAX_BODY_BYTES, sendGraphQLError, unreadableBodyMessage } from '../../platform/http/responses.js';

/**
 * POST /graphql with a plain JSON body, taken through the router's steps (admission, correlation, tracing, the
 * repetition check, the single-fetch path) on Node's own request and response rather than Express's. Express swaps
 * the prototypes of every request and response it handles, and its router and helpers ran on each of the steps: around
 * a one-fetch query that cost the router about 0.45 ms of CPU a request, more than a bare node:http proxy spends on
 * the whole request (bench/bare-proxy.mjs; measured side by side at 300 requests/s: bare 0.38, Express with a no-op
 * chain 0.83, Express and body-parser alone 0.46 ms). What the steps leave unanswered goes on to `rest` with its body
 * read (Apollo Server's Express integration); any other request (another path or method, a body in another charset or
 * encoding) goes to `other` whole: Express, with the same steps mounted there.
 *
 * The steps are Express middleware that touch only what Node's request and response have, and `body` and `locals`,
 * which the lane sets as Express would.
 */
export function graphqlLane({
  admit,
  steps,
  rest,
  other,
}: {
  /** Runs first, before the body is read: a request refused here is never read. */
  admit: RequestHandler;
  steps: RequestHandler[];
  rest: RequestListener;
  other: RequestListener;
}): RequestListener {
  const readBody: RequestHandler = (request, response, next) =>
    readJsonBody(request, response, (body) => {
      request.body = body;
      next();
    });
  const all = [admit, readBody, ...steps];
  return (request, response) => {
    if (!inLane(request)) return other(request, response);
    const req = request as unknown as Request;
    const res = response as unknown as Response;
    res.locals = Object.create(null) as Record<string, unknown>;
    // A client gone mid-body: nothing to answer.
    request.once('error', () => response.destroy());
    // None of the steps fails through next, throws or rejects (each answers its own refusals): one that did is a bug,
    // answered as one. A step's next counts once.
    const runFrom = (index: number): void => {
      if (index === all.length) return rest(request, response);
      let called = false;
      const next = (error?: unknown) => {
        if (called) return;
        called = true;
        if (error !== undefined && error !== null) return failed(response);
        runFrom(index + 1);
      };
      try {
        const result: unknown = all[index](req, res, next);
        if (result instanceof Promise) result.catch(() => failed(response));
      } catch {
        failed(response);
      }
    };
    runFrom(0);
  };
}

/** Requests the lane takes: POST /graphql whose body is JSON in UTF-8, not compressed. */
function inLane(request: IncomingMessage): boolean {
  if (request.method !== 'POST' || request.url !== '/graphql') return false;
  const encoding = request.headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  return JSON_TYPE.test(request.headers['content-type'] ?? '');
}

const JSON_TYPE = /^application\/json\s*(;\s*charset=utf-8\s*)?$/i;

/**
 * The body as express.json() reads it (its `strict` mode): at most MAX_BODY_BYTES, an empty body as {}, anything
 * but an object or an array refused, each refusal as refuseUnreadableBodies words it. A body over the limit is refused
 * as soon as it is (body-parser read the rest first) and its connection closed rather than the rest read.
 */
function readJsonBody(request: IncomingMessage, response: ServerResponse, done: (body: unknown) => void): void {
  const refuse = (status: number) =>
    sendGraphQLError(
      response,
      status,
      'BAD_REQUEST',
      unreadableBodyMessage(status),
      status === 413 ? { connection: 'close' } : {},
    );
  if (Number(request.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return refuse(413);
  const chunks: Buffer[] = [];
  let size = 0;
  const read = (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) return void chunks.push(chunk);
    // Refused once; nothing more is kept.
    request.off('data', read);
    chunks.length = 0;
    refuse(413);
  };
  request.on('data', read);
  request.on('end', () => {
    if (size > MAX_BODY_BYTES) return;
    const text = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    const first = /\S/.exec(text)?.[0];
    if (first === undefined) return text.length === 0 ? done({}) : refuse(400);
    if (first !== '{' && first !== '[') return refuse(400);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return refuse(400);
    }
    done(body);
  });
}

function failed(response: ServerResponse): void {
  if (response.headersSent) return void response.destroy();
  sendGraphQLError(response, 500, 'INTERNAL_SERVER_ERROR', 'Unexpected error.');
}
