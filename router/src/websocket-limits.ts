import type { IncomingMessage } from 'node:http';

import { GraphQLError } from 'graphql';
import type { VerifyClientCallbackAsync, WebSocket, WebSocketServer } from 'ws';

import { ErrorCode } from '../../platform/errors.js';
import { isLoopback } from '../../platform/identity/addresses.js';
import { countDown, countUp } from '../../platform/limits/counts.js';

export interface WebSocketLimitOptions {
  /** Open sockets on this router, all clients together. */
  maxSockets: number;
  maxSocketsPerClient: number;
  maxSubscriptionsPerSocket: number;
  /** Queries and mutations one socket may have in flight at once. */
  maxOperationsPerSocket: number;
  /** Live subscriptions one viewer holds on this router, over all their sockets. */
  maxSubscriptionsPerViewer: number;
  /** Whether loopback clients skip the per-address cap (development and benchmarks). */
  exemptLoopback: boolean;
}

/**
 * Caps on what websocket clients hold open. Every count is of something alive (a socket, a subscription), so the
 * maps keyed by client address or viewer never hold more entries than there are open sockets or subscriptions.
 */
export class WebSocketLimits {
  private openSockets = 0;
  private readonly socketsPerClient = new Map<string, number>();
  private readonly subscriptionsPerSocket = new WeakMap<object, number>();
  private readonly subscriptionsPerViewer = new Map<string, number>();
  private readonly operationsPerSocket = new WeakMap<object, number>();

  constructor(
    private readonly options: WebSocketLimitOptions,
    private readonly clientAddressOf: (request: IncomingMessage) => string | null,
  ) {}

  /** Sockets open right now. */
  get sockets(): number {
    return this.openSockets;
  }

  /** Subscriptions held right now, all viewers together. */
  get subscriptions(): number {
    let count = 0;
    for (const held of this.subscriptionsPerViewer.values()) count += held;
    return count;
  }

  /** Refuses the upgrade with 429 when the router or this client already has too many sockets open. */
  readonly verifyClient: VerifyClientCallbackAsync = ({ req }, done) => {
    if (this.openSockets >= this.options.maxSockets) return done(false, 503, 'Too many open connections');
    const address = this.addressCounted(req);
    if (address !== null && (this.socketsPerClient.get(address) ?? 0) >= this.options.maxSocketsPerClient) {
      return done(false, 429, 'Too many connections from your address');
    }
    done(true);
  };

  /**
   * Counts sockets as they open and close. ws emits 'connection' in the same turn as verifyClient admits it, so the
   * check and the count cannot be raced.
   */
  track(wsServer: WebSocketServer): void {
    wsServer.on('connection', (socket: WebSocket, request: IncomingMessage) => {
      const address = this.addressCounted(request);
      this.openSockets++;
      if (address !== null) countUp(this.socketsPerClient, address);
      // on, not once: a socket closes once, and once() wraps its listener in three objects more for each socket.
      socket.on('close', () => {
        this.openSockets--;
        if (address !== null) countDown(this.socketsPerClient, address);
      });
    });
  }

  /**
   * Reserves a subscription for this socket and viewer, or says why not. The returned release frees it (once, however
   * many times it is called) when the subscription ends.
   */
  reserveSubscription(socket: object, viewerId: string): (() => void) | GraphQLError {
    const onSocket = this.subscriptionsPerSocket.get(socket) ?? 0;
    if (onSocket >= this.options.maxSubscriptionsPerSocket) {
      return tooMany(`A connection may hold at most ${this.options.maxSubscriptionsPerSocket} subscriptions.`);
    }
    if ((this.subscriptionsPerViewer.get(viewerId) ?? 0) >= this.options.maxSubscriptionsPerViewer) {
      return tooMany(`You may hold at most ${this.options.maxSubscriptionsPerViewer} subscriptions at once.`);
    }
    this.subscriptionsPerSocket.set(socket, onSocket + 1);
    countUp(this.subscriptionsPerViewer, viewerId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.subscriptionsPerSocket.set(socket, (this.subscriptionsPerSocket.get(socket) ?? 1) - 1);
      countDown(this.subscriptionsPerViewer, viewerId);
    };
  }

  /** Reserves one query or mutation in flight on this socket, or refuses it; the release frees it (once). */
  reserveOperation(socket: object): (() => void) | GraphQLError {
    const inFlight = this.operationsPerSocket.get(socket) ?? 0;
    if (inFlight >= this.options.maxOperationsPerSocket) {
      return new GraphQLError(
        `A connection may have at most ${this.options.maxOperationsPerSocket} queries and mutations in flight; wait for answers.`,
        { extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: 1 } },
      );
    }
    this.operationsPerSocket.set(socket, inFlight + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.operationsPerSocket.set(socket, (this.operationsPerSocket.get(socket) ?? 1) - 1);
    };
  }

  private addressCounted(request: IncomingMessage): string | null {
    const address = this.clientAddressOf(request) ?? 'unknown';
    return this.options.exemptLoopback && isLoopback(address) ? null : address;
  }
}

const tooMany = (message: string) => new GraphQLError(message, { extensions: { code: ErrorCode.TOO_MANY_SUBSCRIPTIONS } });
