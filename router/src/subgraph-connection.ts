import { GRAPHQL_TRANSPORT_WS_PROTOCOL, type SubscribePayload } from 'graphql-ws';
import WebSocket from 'ws';

import { GROUPED_NEXT } from '../../platform/http/graphql-ws.js';
import type { Logger } from '../../platform/logging.js';

/**
 * Closes that end every subscription on the connection (the subgraph objected to something sent on it, or the protocol
 * failed), as graphql-ws's client deems them fatal; after any other (the link dropped, the replica went away or
 * restarted, the connection was refused, or terminated here for want of a pong) the connection is opened again.
 */
function endsSubscriptions(code: number): boolean {
  if (code >= 1000 && code <= 1999) return ![1000, 1001, 1005, 1006, 1012, 1013, 1014].includes(code);
  return [4004, 4005, 4400, 4401, 4406, 4409, 4429, 4500].includes(code);
}

/** graphql-ws's close codes for what the router itself found wrong. */
const BAD_RESPONSE = 4004;
const INTERNAL_CLIENT_ERROR = 4005;
const ACKNOWLEDGEMENT_TIMEOUT = 4504;

/** Wait before the n-th reconnection in a row: doubling from this, at most MAX_RECONNECT_WAIT_MS, with jitter. */
const FIRST_RECONNECT_WAIT_MS = 250;
const MAX_RECONNECT_WAIT_MS = 5_000;
/**
 * Reconnections in a row that close before they are acknowledged (a subgraph refusing the router's own assertion with
 * 4403, a replica that stays down), after the link that first closed, before the subscriptions held are ended, for
 * their subscribers to decide (each subscribes again a few times, then tells its client): about 8 s of trying, not
 * silence for ever.
 */
const MAX_RECONNECTS_WITHOUT_ACK = 5;

export interface SubgraphConnectionOptions {
  url: string;
  /** The connection_init payload, made afresh on each (re)connect. */
  connectionParams: () => Record<string, unknown>;
  /** How often the subgraph is pinged, and how long its pong may take before the link is deemed dead. */
  pingIntervalMs: number;
  pongTimeoutMs: number;
  /** The largest message accepted from the subgraph. */
  maxMessageBytes: number;
  logger: Logger;
  /** Named in log lines. */
  subgraph: string;
}

/** What one subscription's messages from the subgraph are handed to. */
export interface UpstreamSubscriber {
  /** A `next` message's payload: an execution result. */
  event(payload: unknown): void;
  /**
   * The subscription ended with the subgraph's `error` message: an array of its GraphQL errors (a refusal); or the
   * connection was lost for a reason that ends its subscriptions: an Error (subscribing again may succeed).
   */
  failed(error: unknown): void;
  /** The subgraph completed the subscription, or the connection was disposed of. */
  completed(): void;
}

interface Upstream {
  payload: SubscribePayload;
  subscriber: UpstreamSubscriber;
}

/**
 * One graphql-transport-ws connection to a subgraph carrying many subscribers' subscriptions, each held as one small
 * record in a map by id, where graphql-ws's client kept a dozen closures, listeners and promises for each (a router
 * holds thousands).
 *
 * Opened on the first subscription and closed when the last one goes. A close that only means the link or the replica
 * went away is followed by a new connection, with backoff, on which every subscription still held is sent again (its
 * payload re-serialised, so the assertion in it is signed afresh); any other close (endsSubscriptions) ends every
 * subscription on it with an error, for its subscriber to decide whether to subscribe again. A subgraph that stops
 * answering pings is terminated, which reconnects, and so is one that does not acknowledge in time; connections that
 * keep closing before they are acknowledged end the subscriptions too (MAX_RECONNECTS_WITHOUT_ACK). Nothing the
 * subgraph sends can throw out of here: a message that is not a JSON object of a known type closes the connection
 * (4004), as graphql-ws's client does.
 */
export class SubgraphConnection {
  private socket: WebSocket | undefined;
  private acknowledged = false;
  private readonly upstreams = new Map<string, Upstream>();
  private lastId = 0;
  private reconnectsInARow = 0;
  private reconnect: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private pongDeadline: NodeJS.Timeout | undefined;
  private ackDeadline: NodeJS.Timeout | undefined;
  private disposed = false;

  constructor(private readonly options: SubgraphConnectionOptions) {}

  /** Subscriptions held on this connection (sent, or waiting for it to open). */
  get size(): number {
    return this.upstreams.size;
  }

  /** Sends the subscription (once the connection is open) and hands its messages to `subscriber`; returns its id. */
  subscribe(payload: SubscribePayload, subscriber: UpstreamSubscriber): string {
    const id = String(++this.lastId);
    if (this.disposed) {
      subscriber.completed();
      return id;
    }
    // Serialised before it is held: a payload that cannot be sent ends its subscription alone, here, and is not resent
    // on every reconnect. (Its subscriber hears it as a lost connection; this never throws.)
    let message: string | undefined;
    try {
      message = this.acknowledged ? subscribeMessage(id, payload) : undefined;
    } catch (error) {
      subscriber.failed(error);
      return id;
    }
    this.upstreams.set(id, { payload, subscriber });
    if (message) this.send(message);
    else if (!this.socket && !this.reconnect) this.open();
    return id;
  }

  /** Ends the subscription (the subgraph is told, if it holds it); its subscriber hears nothing more. */
  unsubscribe(id: string): void {
    if (!this.upstreams.delete(id)) return;
    if (this.upstreams.size === 0) this.disconnect();
    else if (this.acknowledged) this.send(JSON.stringify({ id, type: 'complete' }));
  }

  /** Closes the connection for good; every subscription on it completes. */
  dispose(): void {
    this.disposed = true;
    this.disconnect();
    const upstreams = [...this.upstreams.values()];
    this.upstreams.clear();
    for (const { subscriber } of upstreams) subscriber.completed();
  }

  private open() {
    const { url, maxMessageBytes } = this.options;
    const socket = new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL, {
      maxPayload: maxMessageBytes,
      perMessageDeflate: false,
      // A connect that stalls before the upgrade (a replica's address gone dark) is given up as soon as a silent open
      // link would be; so is one upgraded but never acknowledged (see 'open').
      handshakeTimeout: this.silenceAllowedMs(),
    });
    this.socket = socket;
    socket.on('open', () => {
      if (socket !== this.socket) return;
      try {
        // Grouped results: one message for every subscription given the same one, parsed once here (GROUPED_NEXT).
        const payload = { ...this.options.connectionParams(), [GROUPED_NEXT]: true };
        socket.send(JSON.stringify({ type: 'connection_init', payload }));
      } catch (error) {
        this.options.logger.error('could not open a subscription link to a subgraph', {
          subgraph: this.options.subgraph,
          error: String((error as Error)?.message ?? error),
        });
        this.refuse(socket, INTERNAL_CLIENT_ERROR, 'Internal client error');
        return;
      }
      this.startKeepAlive(socket);
      // A subgraph that upgrades and answers pings but never acknowledges (stuck in its onConnect) would otherwise
      // hold the subscriptions pending for ever: closed as graphql-ws's client does (4504), which reconnects, and after
      // MAX_RECONNECTS_WITHOUT_ACK in a row ends them.
      this.ackDeadline = setTimeout(() => {
        if (socket === this.socket && !this.acknowledged)
          this.refuse(socket, ACKNOWLEDGEMENT_TIMEOUT, 'Connection acknowledgement timeout');
      }, this.silenceAllowedMs()).unref();
    });
    socket.on('message', (data) => {
      if (socket === this.socket) this.receive(socket, String(data));
    });
    // A close follows every error, and says what to do.
    socket.on('error', () => {});
    socket.on('close', (code, reason) => {
      if (socket === this.socket) this.lost(code, String(reason));
    });
  }

  private receive(socket: WebSocket, data: string) {
    let message: { type?: unknown; id?: unknown; ids?: unknown; payload?: unknown } | null;
    try {
      message = JSON.parse(data);
    } catch {
      message = null;
    }
    if (typeof message !== 'object' || message === null) {
      this.refuse(socket, BAD_RESPONSE, 'Bad response');
      return;
    }
    switch (message.type) {
      case 'next':
        // The same payload object for every subscription of a group: nothing downstream changes an event.
        for (const id of Array.isArray(message.ids) ? message.ids : [message.id])
          this.upstreams.get(id as string)?.subscriber.event(message.payload);
        return;
      case 'error':
        this.take(message.id)?.subscriber.failed(message.payload);
        return;
      case 'complete':
        this.take(message.id)?.subscriber.completed();
        return;
      case 'ping':
        socket.send('{"type":"pong"}');
        return;
      case 'pong':
        clearTimeout(this.pongDeadline);
        this.pongDeadline = undefined;
        return;
      case 'connection_ack':
        if (this.acknowledged) return;
        this.acknowledged = true;
        clearTimeout(this.ackDeadline);
        this.reconnectsInARow = 0;
        // A snapshot: a subscriber told its payload failed may subscribe again at once (sent by subscribe itself).
        for (const [id, upstream] of [...this.upstreams]) this.resend(socket, id, upstream);
        if (this.upstreams.size === 0) this.disconnect();
        return;
      default:
        this.refuse(socket, BAD_RESPONSE, 'Bad response');
    }
  }

  /**
   * Gives up on a connection the router itself found wrong: its subscriptions end now (it is not used meanwhile, nor
   * does it wait on the subgraph to answer the close), then the socket is closed with `code`.
   */
  private refuse(socket: WebSocket, code: number, reason: string) {
    this.lost(code, reason);
    socket.close(code, reason);
  }

  /** Sends a held subscription on a new connection; one whose payload no longer serialises ends, alone. */
  private resend(socket: WebSocket, id: string, { payload, subscriber }: Upstream) {
    let message: string;
    try {
      message = subscribeMessage(id, payload);
    } catch (error) {
      this.upstreams.delete(id);
      subscriber.failed(error);
      return;
    }
    socket.send(message);
  }

  /** The subscription the subgraph has ended (with an error or complete), no longer held. */
  private take(id: unknown): Upstream | undefined {
    const upstream = this.upstreams.get(id as string);
    if (upstream) this.upstreams.delete(id as string);
    if (this.upstreams.size === 0 && upstream) this.disconnect();
    return upstream;
  }

  private lost(code: number, reason: string) {
    this.detach();
    if (this.disposed || this.upstreams.size === 0) return;
    const { logger, subgraph } = this.options;
    if (endsSubscriptions(code) || this.reconnectsInARow >= MAX_RECONNECTS_WITHOUT_ACK) {
      this.reconnectsInARow = 0;
      logger.warn('a subscription link to a subgraph closed; its subscriptions subscribe again', { subgraph, code, reason });
      const upstreams = [...this.upstreams.values()];
      this.upstreams.clear();
      const error = new Error(`the subgraph closed the connection: ${code} ${reason}`);
      for (const { subscriber } of upstreams) subscriber.failed(error);
      return;
    }
    if (this.reconnectsInARow === 0)
      logger.info('a subscription link to a subgraph closed; reconnecting', { subgraph, code, reason });
    const wait = Math.min(MAX_RECONNECT_WAIT_MS, FIRST_RECONNECT_WAIT_MS * 2 ** this.reconnectsInARow++);
    // Jittered, so that a restarted replica is not met by every router's connections in the same millisecond.
    this.reconnect = setTimeout(
      () => {
        this.reconnect = undefined;
        if (this.upstreams.size > 0 && !this.disposed) this.open();
      },
      wait / 2 + Math.random() * (wait / 2),
    ).unref();
  }

  private startKeepAlive(socket: WebSocket) {
    const { pingIntervalMs, pongTimeoutMs, logger, subgraph } = this.options;
    this.keepAlive = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send('{"type":"ping"}');
      this.pongDeadline ??= setTimeout(() => {
        logger.warn('a subgraph stopped answering pings; reconnecting', { subgraph });
        socket.terminate();
      }, pongTimeoutMs).unref();
    }, pingIntervalMs).unref();
  }

  /** Closes the socket, if any, and forgets it: nothing it does from now on reaches the subscriptions. */
  private disconnect() {
    const socket = this.socket;
    this.detach();
    clearTimeout(this.reconnect);
    this.reconnect = undefined;
    socket?.close(1000, 'Normal Closure');
  }

  private detach() {
    this.socket = undefined;
    this.acknowledged = false;
    clearInterval(this.keepAlive);
    clearTimeout(this.pongDeadline);
    clearTimeout(this.ackDeadline);
    this.keepAlive = this.pongDeadline = this.ackDeadline = undefined;
  }

  /** How long the subgraph may leave a connection being opened unanswered: as long as an open one between pings. */
  private silenceAllowedMs(): number {
    return this.options.pingIntervalMs + this.options.pongTimeoutMs;
  }

  private send(message: string) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(message);
  }
}

function subscribeMessage(id: string, payload: SubscribePayload): string {
  return JSON.stringify({ id, type: 'subscribe', payload });
}
