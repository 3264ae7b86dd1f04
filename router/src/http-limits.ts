import type { Server } from 'node:http';
import type { Socket } from 'node:net';

import type { RequestHandler } from 'express';

import { ErrorCode } from '../../platform/errors.js';
import { sendJson } from '../../platform/http/responses.js';
import { isLoopback } from '../../platform/identity/addresses.js';
import { countDown, countUp } from '../../platform/limits/counts.js';
import { clientAddressOf, viewerFromHeaders } from './viewer.js';

export interface HttpLimitOptions {
  /** Requests one client address may have in flight (being read, planned, executed or answered). */
  maxRequestsPerClient: number;
  /** Requests one signed-in viewer may have in flight, from any address. */
  maxRequestsPerViewer: number;
  /** Open HTTP connections, websockets included, all clients together. */
  maxConnections: number;
  /** Open connections from one peer address; only without a trusted proxy in front (then every peer is the proxy). */
  maxConnectionsPerClient: number;
  /** How long a client may take to send a request's headers, and its whole request. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Proxy hops whose X-Forwarded-For is believed (ROUTER_TRUST_PROXY). */
  trustedProxyHops: number;
  /** Whether loopback clients skip the per-address limits (development and benchmarks). */
  exemptLoopback: boolean;
  jwtSecret: string;
}

/** Where the admitting middleware leaves the viewer it verified, so the request's context does not verify it again. */
export const VERIFIED_VIEWER = 'twtrVerifiedViewer';

/**
 * What one client may hold of the router's HTTP side: requests in flight per address and per viewer (refused with 429
 * and RATE_LIMITED, counted from the moment the headers are read, so a body sent slowly holds its place), connections
 * per peer and in all, and how long a request may take to arrive. Every map holds only what is in flight or open.
 */
export class HttpLimits {
  private readonly requestsPerClient = new Map<string, number>();
  private readonly requestsPerViewer = new Map<string, number>();
  private readonly connectionsPerPeer = new Map<string, number>();

  constructor(private readonly options: HttpLimitOptions) {}

  /** Timeouts and connection caps on the router's HTTP server. */
  apply(server: Server): void {
    server.requestTimeout = this.options.requestTimeoutMs;
    server.headersTimeout = Math.min(this.options.headersTimeoutMs, this.options.requestTimeoutMs);
    server.maxConnections = this.options.maxConnections;
    if (this.options.trustedProxyHops > 0) return;
    server.on('connection', (socket: Socket) => {
      const peer = socket.remoteAddress ?? 'unknown';
      if (this.options.exemptLoopback && isLoopback(peer)) return;
      const open = this.connectionsPerPeer.get(peer) ?? 0;
      if (open >= this.options.maxConnectionsPerClient) {
        socket.destroy();
        return;
      }
      this.connectionsPerPeer.set(peer, open + 1);
      socket.once('close', () => countDown(this.connectionsPerPeer, peer));
    });
  }

  /** Counts the request against its address and viewer while it is in flight, or refuses it with 429. */
  readonly admit: RequestHandler = (request, response, next) => {
    const address = clientAddressOf(request, this.options.trustedProxyHops) ?? 'unknown';
    const countedAddress = this.options.exemptLoopback && isLoopback(address) ? null : address;
    let viewer: string | null = null;
    try {
      viewer = viewerFromHeaders(request.headers, this.options.jwtSecret);
      response.locals[VERIFIED_VIEWER] = viewer;
    } catch {
      // Not counted as anyone: the request's context refuses the token (UNAUTHENTICATED).
    }
    if (countedAddress !== null && (this.requestsPerClient.get(countedAddress) ?? 0) >= this.options.maxRequestsPerClient)
      return refuse(response, `At most ${this.options.maxRequestsPerClient} requests from your address at once.`);
    if (viewer !== null && (this.requestsPerViewer.get(viewer) ?? 0) >= this.options.maxRequestsPerViewer)
      return refuse(response, `At most ${this.options.maxRequestsPerViewer} of your requests at once.`);
    if (countedAddress !== null) countUp(this.requestsPerClient, countedAddress);
    if (viewer !== null) countUp(this.requestsPerViewer, viewer);
    response.once('close', () => {
      if (countedAddress !== null) countDown(this.requestsPerClient, countedAddress);
      if (viewer !== null) countDown(this.requestsPerViewer, viewer);
    });
    next();
  };
}

function refuse(response: Parameters<RequestHandler>[1], message: string): void {
  const body = { errors: [{ message, extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: 1 } }] };
  sendJson(response, 429, JSON.stringify(body), { 'retry-after': '1' });
}
