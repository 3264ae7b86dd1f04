import { type Client, createClient } from 'graphql-ws';
import { inject } from 'vitest';
import WebSocket from 'ws';

/** The router's graphql-ws endpoint. */
export const routerSocketUrl = () => inject('routerUrl').replace(/^http/, 'ws');

/** A WebSocket class whose upgrade request comes from `clientAddress` (the test router believes one proxy hop). */
export function webSocketFrom(clientAddress: string): typeof WebSocket {
  return class extends WebSocket {
    constructor(url: string | URL | null, protocols?: string | string[]) {
      super(url!, protocols, { headers: { 'x-forwarded-for': clientAddress } });
    }
  } as typeof WebSocket;
}

/** A graphql-ws client of the router, signed in with `token`, from an address of the caller's choosing. */
export function routerClient(
  token: string,
  options: { clientAddress?: string; onClosed?: (code: number, reason: string) => void } = {},
): Client {
  return createClient({
    url: routerSocketUrl(),
    webSocketImpl: options.clientAddress ? webSocketFrom(options.clientAddress) : WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
    on: { closed: (event) => options.onClosed?.((event as CloseEvent).code, (event as CloseEvent).reason) },
  });
}

/** The first thing a subscription yields (data or errors), or its refusal's errors. */
export async function firstResult(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const iterator = client.iterate({ query, variables });
  try {
    return (await iterator.next()).value;
  } catch (errors) {
    return { errors };
  } finally {
    await iterator.return?.();
  }
}

/** Opens a raw socket on the router speaking graphql-ws, once it is open. */
export async function rawSocket(clientAddress?: string): Promise<WebSocket> {
  const SocketClass = clientAddress ? webSocketFrom(clientAddress) : WebSocket;
  const socket = new SocketClass(routerSocketUrl(), 'graphql-transport-ws');
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/** How a socket ended: its close code. */
export const closeCodeOf = (socket: WebSocket) =>
  new Promise<number>((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) resolve(-1);
    socket.once('close', (code) => resolve(code));
  });

/** A graphql-ws message from the socket, parsed. */
export const nextMessage = (socket: WebSocket) =>
  new Promise<any>((resolve) => socket.once('message', (data) => resolve(JSON.parse(String(data)))));
