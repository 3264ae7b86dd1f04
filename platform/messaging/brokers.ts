import type { ChannelModel, Options } from 'amqplib';
import amqp from 'amqplib';

/**
 * AMQP_URL names every node of the broker cluster, comma-separated (one URL for a single broker). A connection goes to
 * one node; when that node is lost, the next connection goes to the next one.
 */
export function brokerNodes(amqpUrl: string): Options.Connect[] {
  return amqpUrl
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const url = new URL(part);
      return {
        protocol: url.protocol.replace(/:$/, ''),
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port) || (url.protocol === 'amqps:' ? 5671 : 5672),
        username: decodeURIComponent(url.username) || 'guest',
        password: decodeURIComponent(url.password) || 'guest',
        vhost: decodeURIComponent(url.pathname.slice(1)) || '/',
        // A node that dies without closing its sockets is noticed within two heartbeats, not the server's 60 s.
        heartbeat: Number(url.searchParams.get('heartbeat') ?? HEARTBEAT_SECONDS),
      };
    });
}

const HEARTBEAT_SECONDS = 5;
/** Waits between reconnect attempts once every node has been tried: doubling from this, up to the cap. */
const RETRY_BASE_DELAY_MS = 200;
const RETRY_MAX_DELAY_MS = 5_000;

/**
 * For amqplib's recovering connection: `address` is read at every (re)connect and always names the current node;
 * `calculateDelay`, called before each retry, moves on to the next node. Every node is tried at once after a loss
 * (the others are likely up), then retries back off.
 */
export function rotatingBrokerAddress(amqpUrl: string): {
  address: Options.Connect;
  calculateDelay: (attempt: number) => number;
} {
  const nodes = brokerNodes(amqpUrl);
  if (nodes.length === 0) throw new Error('AMQP_URL names no broker');
  let current = 0;
  // Each field reads the current node's, so the same options object names whichever node is current.
  const address = Object.defineProperties(
    {},
    Object.fromEntries(
      Object.keys(nodes[0]).map((key) => [key, { enumerable: true, get: () => nodes[current][key as keyof Options.Connect] }]),
    ),
  ) as Options.Connect;
  return {
    address,
    calculateDelay: (attempt) => {
      current = (current + 1) % nodes.length;
      const backoff = attempt < nodes.length ? 0 : RETRY_BASE_DELAY_MS * 2 ** (attempt - nodes.length);
      return Math.min(backoff, RETRY_MAX_DELAY_MS) * (0.8 + Math.random() * 0.4);
    },
  };
}

/** A plain connection to the first node that answers (for tools and checks that open one connection and go). */
export async function connectToAnyBroker(amqpUrl: string): Promise<ChannelModel> {
  let lastError: unknown;
  for (const node of brokerNodes(amqpUrl)) {
    try {
      const connection = await amqp.connect(node);
      // A connection error with no listener throws out of amqplib's socket handler; what this connection was doing
      // fails on its own (its channels close, their calls reject).
      connection.on('error', () => undefined);
      return connection;
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError ?? new Error('AMQP_URL names no broker');
}
