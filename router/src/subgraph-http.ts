import { Agent, type IncomingHttpHeaders, request } from 'node:http';

import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';

import { ErrorCode } from '../../platform/errors.js';

/** The most a subgraph may answer one fetch with; beyond it the fetch fails rather than the router's memory. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The bytes of subgraph answers one client request may still gather. Charged as answers arrive, by every fetch of the
 * request (side by side ones included); a fetch that would go over stops reading and the request is refused whole
 * (RESPONSE_TOO_LARGE), never truncated: the cost limit counts fields, not how long their values are.
 */
export interface AnswerBudget {
  left: number;
  readonly limit: number;
  exceeded: boolean;
}

export const answerBudget = (maxBytes: number): AnswerBudget => ({ left: maxBytes, limit: maxBytes, exceeded: false });

/** Charges `bytes` to the budget; false (the budget marked exceeded) once they take it past its limit. */
export function charge(budget: AnswerBudget, bytes: number): boolean {
  budget.left -= bytes;
  if (budget.left >= 0) return true;
  budget.exceeded = true;
  return false;
}

export const answerTooLarge = (budget: AnswerBudget) =>
  new GraphQLError(`The answer would be larger than ${budget.limit} bytes: ask for fewer or smaller pages.`, {
    extensions: { code: ErrorCode.RESPONSE_TOO_LARGE },
  });
const TIMEOUT_MS = 30_000;
/** Idle pooled sockets are closed well before a subgraph would close them (its keepAliveTimeout is 65 s). */
const IDLE_SOCKET_MS = 30_000;

/**
 * The router's HTTP client for subgraph fetches: node:http with a keep-alive pool. It replaces fetch (undici's web
 * streams, abort signals and transferables were about 15% of the router's CPU in a profile of one-subgraph queries)
 * and reads the answer as one string, which is all the gateway does with it.
 */
const agent = new Agent({ keepAlive: true, keepAliveMsecs: 1_000, maxSockets: 256, maxFreeSockets: 64, timeout: IDLE_SOCKET_MS });

/** What the gateway reads from a subgraph's answer (a subset of fetch's Response). */
export interface SubgraphResponse {
  ok: boolean;
  status: number;
  statusText: string;
  url: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** The body's length in bytes, as read: what an answer kept for others weighs, without serialising it again. */
  bytes: number;
}

/** The bytes of a subgraph's answer as it was read; 0 for one not read from a subgraph (a replayed event). */
export const answerBytes = (response: GatewayGraphQLResponse): number =>
  (response.http as Partial<SubgraphResponse> | undefined)?.bytes ?? 0;

/**
 * One fetch for a client request: its answer is charged to that request's `budget`, if it has one. Passed along, not
 * kept in an AsyncLocalStorage: one in use makes Node 20 run async hooks on every promise of the process, about 4% of
 * the router's CPU delivering live frames.
 */
export async function postToSubgraph(
  url: string,
  headers: Record<string, string>,
  body: string,
  budget?: AnswerBudget,
): Promise<SubgraphResponse> {
  try {
    return await post(url, headers, body, budget);
  } catch (error) {
    // A pooled socket the subgraph closed just as it was reused: the request never reached it (Node's documented
    // keep-alive race); send it once more on a fresh socket.
    if ((error as { reusedSocket?: boolean }).reusedSocket && (error as NodeJS.ErrnoException).code === 'ECONNRESET')
      return post(url, headers, body, budget);
    throw error;
  }
}

function post(url: string, headers: Record<string, string>, body: string, budget?: AnswerBudget): Promise<SubgraphResponse> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // Refused, then the rest left unread (destroyed without an error: the refusal is the answer).
          if (budget && !charge(budget, chunk.length)) {
            reject(answerTooLarge(budget));
            outgoing.destroy();
          } else if (size > MAX_RESPONSE_BYTES) {
            reject(Object.assign(new Error('subgraph response too large'), { code: 'E2BIG' }));
            outgoing.destroy();
          } else chunks.push(chunk);
        });
        incoming.on('error', reject);
        incoming.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve(responseOf(url, incoming.statusCode ?? 0, incoming.statusMessage ?? '', incoming.headers, text, size));
        });
      },
    );
    outgoing.on('error', (error) => reject(Object.assign(error, { reusedSocket: outgoing.reusedSocket })));
    outgoing.setTimeout(TIMEOUT_MS, () =>
      outgoing.destroy(Object.assign(new Error('subgraph did not answer in time'), { code: 'ETIMEDOUT' })),
    );
    outgoing.end(body);
  });
}

function responseOf(
  url: string,
  status: number,
  statusText: string,
  headers: IncomingHttpHeaders,
  text: string,
  bytes: number,
): SubgraphResponse {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText,
    url,
    headers: {
      get: (name) => {
        const value = headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
      },
    },
    text: async () => text,
    json: async () => JSON.parse(text) as unknown,
    bytes,
  };
}
