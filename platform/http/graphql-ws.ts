import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

import { type DocumentNode, GraphQLError, type GraphQLSchema, parse, validate } from 'graphql';
import { handleProtocols, makeServer, MessageType, type ServerOptions, stringifyMessage } from 'graphql-ws';
import { type ServerOptions as WsServerOptions, type WebSocket, WebSocketServer } from 'ws';

import { textKeyedCache } from '../limits/text-keyed-cache.js';
import type { Logger } from '../logging.js';

/** Largest websocket message accepted (a subscribe message is a few KiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Bytes waiting in one socket's send buffer (any frame: results, events, pongs) before the socket is closed. */
export const MAX_UNSENT_BYTES = 1024 * 1024;

/** A ping's payload is echoed in its pong only up to this size (JSON characters); a bigger one gets a bare pong. */
const MAX_ECHOED_PING_CHARACTERS = 128;

/**
 * A connection_init payload field by which the router asks a subgraph to group `next` messages: the subscriptions of one
 * connection given the same result in one turn of the event loop get one message, `{"ids":[…],"type":"next","payload":…}`,
 * instead of one each (one live tweet reaches up to a hundred of the router's subscriptions on each connection). Not
 * graphql-ws: only for a client that asks, to a server that offers it (WebSocketServerOptions.groupNext).
 */
export const GROUPED_NEXT = 'groupedNext';

/** What graphql-ws sends for each result: `{"id":<id>,"type":"next","payload":<result>}`, in this order. */
const NEXT_ID_START = '{"id":';
const NEXT_ID_END = ',"type":"next","payload":';

/** Close codes of our own, in the 4xxx range graphql-ws leaves to applications. */
export const TOO_FAR_BEHIND = 4429;
const INTERNAL_ERROR = 4500;

/**
 * What the operations of a socket know of it: the socket, and the upgrade request until the client has said who it is
 * (onConnect). Kept after that, each socket would hold its request and headers (about 1.5 KiB) for as long as it lives.
 */
export interface Extra {
  readonly socket: WebSocket;
  request: IncomingMessage | undefined;
}

export interface GraphQLWebSocketServer {
  wsServer: WebSocketServer;
  stop(): Promise<void>;
}

export interface WebSocketServerOptions {
  /** How often every client is pinged. Defaults to graphql-ws's 12 s. */
  keepAliveMs?: number;
  /** Admits or refuses an upgrade before the socket opens (ws's verifyClient). */
  verifyClient?: WsServerOptions['verifyClient'];
  /** Where a failure inside message handling is reported (one line, no stack). Defaults to nowhere. */
  logger?: Pick<Logger, 'warn'>;
  /** See MAX_UNSENT_BYTES; tests lower it. */
  maxUnsentBytes?: number;
  /** Groups `next` messages for a client whose connection_init asks (GROUPED_NEXT). */
  groupNext?: boolean;
}

/**
 * graphql-ws on the /graphql path of an HTTP server (the router's and the subgraphs'), through graphql-ws's own
 * protocol engine (makeServer) with our socket adapter rather than its `useServer`, because a socket is shared by
 * everyone's router and must not be one client's to fill:
 * - every frame sent (a result, a subscription event, a pong) goes through one bound on what already waits in the
 *   socket's send buffer: a client that does not read is closed with 4429 instead of growing the router's memory;
 * - a ping's payload is echoed only when small (graphql-ws echoes any payload, up to the 1 MiB message limit);
 * - a failure inside message handling closes that socket with 4500 and logs one line, where useServer printed a whole
 *   stack trace to stderr for every such message;
 * - every client is pinged each `keepAliveMs` (one sweep for all sockets) and one that has not answered by the next
 *   sweep is terminated, so a client that vanished without closing (a dropped network) does not keep its
 *   subscriptions, here and upstream.
 */
export function serveGraphQLOverWebSocket<P extends Record<string, unknown> | undefined, E extends Record<PropertyKey, unknown>>(
  httpServer: Server,
  options: ServerOptions<P, Extra & Partial<E>>,
  {
    keepAliveMs = 12_000,
    verifyClient,
    logger,
    maxUnsentBytes = MAX_UNSENT_BYTES,
    groupNext = false,
  }: WebSocketServerOptions = {},
): GraphQLWebSocketServer {
  // A bigger message closes its socket with 1009 before it is buffered further (ws's own default is 100 MiB).
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: '/graphql',
    maxPayload: MAX_MESSAGE_BYTES,
    verifyClient,
    handleProtocols,
  });
  const served = new WeakMap<WebSocket, ServedSocket>();
  const server = makeServer<P, Extra & Partial<E>>({
    ...options,
    onConnect: async (ctx) => {
      try {
        const permitted = await options.onConnect?.(ctx);
        const params = ctx.connectionParams as Record<string, unknown> | undefined;
        // Grouping reads graphql-ws's own message format: not with a replacer of the server's.
        const offered = groupNext && !options.jsonMessageReplacer;
        if (offered && permitted !== false && params?.[GROUPED_NEXT] === true) served.get(ctx.extra.socket)?.groupNext();
        return permitted;
      } finally {
        ctx.extra.request = undefined;
        // Read by onConnect alone; kept, each socket would hold its bearer token (a few hundred bytes) while it lives.
        (ctx as { connectionParams?: unknown }).connectionParams = undefined;
      }
    },
  });

  // Shared by every socket (ws calls its listeners with the socket as `this`): nothing per socket for these.
  function failed(this: WebSocket, error: Error) {
    logger?.warn('a websocket failed', { error: error.message });
    this.close(INTERNAL_ERROR, 'Internal server error');
  }
  function answered(this: WebSocket) {
    unanswered.delete(this);
  }

  wsServer.on('connection', (socket, request) => {
    socket.on('error', failed);
    socket.on('pong', answered);
    const adapter = new ServedSocket(socket, maxUnsentBytes, logger);
    served.set(socket, adapter);
    const closed = server.opened(adapter, { socket, request } as Extra & Partial<E>);
    socket.on('close', (code, reason) => {
      unanswered.delete(socket);
      void closed(code, String(reason));
    });
  });

  // One sweep for every socket (timers of its own cost each of thousands of idle sockets a few hundred bytes): a
  // socket that has not answered the previous sweep's ping is terminated, every other one is pinged.
  const unanswered = new Set<WebSocket>();
  const pinging = setInterval(() => {
    for (const socket of wsServer.clients) {
      if (unanswered.has(socket)) {
        socket.terminate();
      } else if (socket.readyState === socket.OPEN) {
        unanswered.add(socket);
        socket.ping();
      }
    }
  }, keepAliveMs).unref();

  return {
    wsServer,
    stop: async () => {
      clearInterval(pinging);
      // Through each socket's adapter: what it holds for grouping leaves before the close, as it would ungrouped.
      for (const client of wsServer.clients) (served.get(client) ?? client).close(1001, 'Going away');
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
    },
  };
}

/**
 * A ws socket as graphql-ws's protocol engine uses it (its methods on the prototype: a router holds thousands).
 *
 * Every frame goes through one bound on what already waits in the socket's send buffer, and frames sent before the
 * next turn of process.nextTick's queue leave in one write: one live item reaches up to a hundred of the router's
 * subscriptions on one connection to the feed, and ws writes each frame as it is sent, so that was a hundred system
 * calls, the feed's largest single cost delivering live items. ws has no corking of its own: its TCP socket is corked.
 */
class ServedSocket {
  private readonly raw: Socket | undefined;
  /** The socket is corked until the next tick, with this many bytes sent since. */
  private corked = false;
  private corkedBytes = 0;
  /** Set when the client asked for grouped `next` messages: this tick's, by payload, waiting for the flush. */
  private grouped: Map<string, Group> | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly maxUnsentBytes: number,
    private readonly logger: Pick<Logger, 'warn'> | undefined,
  ) {
    this.raw = (socket as unknown as { _socket?: Socket })._socket;
  }

  get protocol(): string {
    return this.socket.protocol;
  }

  /** From now on, `next` messages with the same payload in one tick leave as one (GROUPED_NEXT). */
  groupNext(): void {
    // Held until the flush the cork schedules: without a TCP socket to cork, nothing is held.
    if (this.raw) this.grouped = new Map();
  }

  send(data: string): Promise<void> {
    const { socket, grouped } = this;
    if (grouped && socket.readyState === socket.OPEN) {
      const idEnd = nextIdEnd(data);
      if (idEnd > 0)
        return this.sendGrouped(grouped, data.slice(NEXT_ID_START.length, idEnd), data.slice(idEnd + NEXT_ID_END.length, -1));
      // Anything else (an error, a complete, a pong) leaves after the results held before it, as it would ungrouped.
      this.sendGroups();
    }
    return this.write(data);
  }

  private write(data: string): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      const bytes = Buffer.byteLength(data);
      // What this tick sent is waiting for the uncork, not for the client: only what is older counts against it.
      if (socket.bufferedAmount - this.corkedBytes + bytes > this.maxUnsentBytes) {
        socket.close(TOO_FAR_BEHIND, 'Too far behind: the client is not reading what it is sent');
        return resolve();
      }
      this.cork(bytes);
      // A frame that cannot be written means the socket is going; its close ends everything on it.
      socket.send(data, () => resolve());
    });
  }

  close(code?: number, reason?: string): void {
    this.sendGroups();
    this.socket.close(code, reason);
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    const { socket, logger } = this;
    // Not an async listener: its frame would hold each message's buffer for as long as the operation it starts lives.
    socket.on('message', (data) => {
      // A socket being closed (one too far behind, say) has its further messages ignored, not executed: ws delivers
      // them until the peer answers the close or its 30 s timeout.
      if (socket.readyState !== socket.OPEN) return;
      handle(String(data)).catch((error: unknown) => {
        logger?.warn('closing a websocket whose message could not be handled', {
          error: String((error as Error)?.message ?? error).slice(0, 200),
        });
        socket.close(INTERNAL_ERROR, 'Internal server error');
      });
    });
  }

  onPing(payload: Record<string, unknown> | undefined): Promise<void> {
    const echoed = payload && JSON.stringify(payload).length <= MAX_ECHOED_PING_CHARACTERS;
    return this.send(stringifyMessage(echoed ? { type: MessageType.Pong, payload } : { type: MessageType.Pong }));
  }

  private cork(bytes: number) {
    if (!this.raw) return;
    if (!this.corked) {
      this.corked = true;
      this.raw.cork();
      process.nextTick(flush, this);
    } else if (this.corkedBytes + bytes > this.maxUnsentBytes / 2) {
      // Written now rather than held: what one tick may send past the bound is at most half of it.
      this.raw.uncork();
      this.raw.cork();
      this.corkedBytes = 0;
    }
    this.corkedBytes += bytes;
  }

  /**
   * A `next` (its id as JSON, and its payload) held until the flush, with every other of this tick with the same
   * payload. graphql-ws waits for it as for any frame: until the group is written.
   */
  private sendGrouped(grouped: Map<string, Group>, id: string, payload: string): Promise<void> {
    let group = grouped.get(payload);
    if (!group) {
      grouped.set(payload, (group = { ids: [], written: [] }));
      this.cork(0);
    }
    group.ids.push(id);
    return new Promise<void>((resolve) => group.written.push(resolve));
  }

  /** Sends the grouped messages held, in the order each group began. */
  private sendGroups(): void {
    const { grouped } = this;
    if (!grouped || grouped.size === 0) return;
    for (const [payload, { ids, written }] of grouped) {
      const sent = this.write(`{"ids":[${ids.join(',')}],"type":"next","payload":${payload}}`);
      void sent.then(() => written.forEach((resolve) => resolve()));
    }
    grouped.clear();
  }

  /** Writes what was corked (on the next tick after the first frame). */
  flush(): void {
    this.sendGroups();
    this.corked = false;
    this.corkedBytes = 0;
    this.raw?.uncork();
  }
}

/** Grouped `next` messages waiting for the flush: their ids (as JSON) and their senders. */
interface Group {
  ids: string[];
  written: (() => void)[];
}

/**
 * Where the id of a `next` message as graphql-ws writes it ends (the index of NEXT_ID_END), or -1 for any other
 * message: the id is a JSON string read to its closing quote, so nothing inside a payload is taken for the marker.
 */
function nextIdEnd(data: string): number {
  if (!data.startsWith(NEXT_ID_START) || data[NEXT_ID_START.length] !== '"') return -1;
  for (let at = NEXT_ID_START.length + 1; at < data.length; at++) {
    if (data[at] === '\\') at++;
    else if (data[at] === '"') return data.startsWith(NEXT_ID_END, at + 1) ? at + 1 : -1;
  }
  return -1;
}

/** One function for every socket's next-tick flush (process.nextTick passes the socket). */
const flush = (served: ServedSocket) => served.flush();

/**
 * Each operation text parsed and validated once against `schema`: thousands of subscribers sending the same
 * subscription (and the router resubscribing all of them at once) share one document. Keyed by text the client
 * chooses, so bounded in entries and characters; a refusal is remembered as well as an acceptance. Errors carry GRAPHQL_PARSE_FAILED or
 * GRAPHQL_VALIDATION_FAILED, as over HTTP.
 */
export function validatedDocuments(
  schema: GraphQLSchema,
  {
    maxTokens,
    beforeValidation,
  }: {
    maxTokens?: number;
    /** A refusal of the parsed document before it is validated (the router's check of what validation would cost). */
    beforeValidation?: (document: DocumentNode) => GraphQLError | undefined;
  } = {},
): (query: string) => DocumentNode | readonly GraphQLError[] {
  const documents = textKeyedCache<DocumentNode | readonly GraphQLError[]>({
    maxEntries: 1_000,
    maxCharacters: 16 << 20,
    // A parsed document is several times its text (every node and location); a refusal keeps the nodes it points at.
    valueSize: (known) => JSON.stringify('kind' in known ? known : known.map((error) => error.nodes ?? [])).length,
  });
  return (query) => {
    let known = documents.get(query);
    if (!known) {
      try {
        const document = parse(query, { maxTokens });
        const refusal = beforeValidation?.(document);
        const errors = refusal ? [] : validate(schema, document);
        known = refusal ? [refusal] : errors.length > 0 ? coded(errors, 'GRAPHQL_VALIDATION_FAILED') : document;
      } catch (error) {
        known = coded([error as GraphQLError], 'GRAPHQL_PARSE_FAILED');
      }
      documents.set(query, known);
    }
    return known;
  };
}

/** Refusals over websockets carry the codes Apollo Server gives the same refusals over HTTP. */
const coded = (errors: readonly GraphQLError[], code: string) =>
  errors.map((error) => new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code } }));
