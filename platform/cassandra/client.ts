import cassandra from 'cassandra-driver';

import type { Config } from '../config.js';
import { NodeLossRetryPolicy } from './retry-policy.js';

export type CassandraClient = cassandra.Client;
export const { types: cql } = cassandra;

/** One CQL write, built by a repository and executed by whoever commits it (the outbox, with its events). */
export interface Statement {
  query: string;
  params: unknown[];
}

/**
 * For schema changes, which the driver must neither retry nor speculate: a second ALTER would fail, a second CREATE race
 * the first.
 */
export const NOT_IDEMPOTENT = { isIdempotent: false } as const;
/**
 * For lightweight transactions: never retried or speculated either (a second Paxos round would find the first one's
 * write and answer "not applied"), and given up on sooner. A coordinator that is alive answers a Paxos round within its
 * own timeouts (1 s of contention, 2 s per write); one silent for 5 s is frozen or gone, and the caller settles what
 * happened with a SERIAL_READ (speculated, so a frozen node costs it 400 ms) instead of waiting out the 12 s timeout.
 */
export const LIGHTWEIGHT_TRANSACTION = { ...NOT_IDEMPOTENT, readTimeout: 5_000 } as const;
/** Sees every lightweight transaction accepted so far; LOCAL_SERIAL, like the writes' LOCAL_QUORUM, outlives one replica. */
export const SERIAL_READ = { consistency: cassandra.types.consistencies.localSerial } as const;

/**
 * A read or write still unanswered after this long is sent to a second node as well, and the first answer wins: a
 * node that is frozen or overloaded (not down, so not avoided) costs this much latency instead of a timeout.
 * Only for idempotent statements: every statement but lightweight transactions and schema changes.
 */
const SPECULATIVE_EXECUTION_DELAY_MS = 400;

/** A driver session bound to one keyspace; each subgraph opens exactly one, for its own keyspace. */
export async function connectCassandra(
  config: Pick<Config, 'CASSANDRA_CONTACT_POINTS' | 'CASSANDRA_LOCAL_DC'> &
    Partial<Pick<Config, 'CASSANDRA_USERNAME' | 'CASSANDRA_PASSWORD'>>,
  keyspace?: string,
  {
    migrating = false,
  }: {
    /**
     * A session for migrations/runner.ts, which waits itself until every node that is up agrees on the schema. The
     * driver's own wait after each schema change counts nodes that are down as well: with one down, each change cost
     * its whole 10 s.
     */
    migrating?: boolean;
  } = {},
): Promise<CassandraClient> {
  const client = new cassandra.Client({
    ...(config.CASSANDRA_USERNAME && {
      authProvider: new cassandra.auth.PlainTextAuthProvider(config.CASSANDRA_USERNAME, config.CASSANDRA_PASSWORD ?? ''),
    }),
    // Every node of the cluster may be a contact point: the session starts while any one of them answers.
    contactPoints: config.CASSANDRA_CONTACT_POINTS.split(',').map((point) => point.trim()),
    localDataCenter: config.CASSANDRA_LOCAL_DC,
    keyspace,
    queryOptions: {
      prepare: true,
      consistency: cassandra.types.consistencies.localQuorum,
      serialConsistency: cassandra.types.consistencies.localSerial,
      // Every write is idempotent (same key, same values, or a timestamp of its own) except lightweight transactions
      // and schema changes.
      isIdempotent: true,
    },
    policies: {
      retry: new NodeLossRetryPolicy(),
      speculativeExecution: new cassandra.policies.speculativeExecution.ConstantSpeculativeExecutionPolicy(
        SPECULATIVE_EXECUTION_DELAY_MS,
        1,
      ),
    },
    // Longer than the server's own timeouts (2 s writes, 5 s reads), so the server's answer says what happened.
    socketOptions: { connectTimeout: 5000, readTimeout: 12000 },
    ...(migrating && { protocolOptions: { maxSchemaAgreementWaitSeconds: 0 } }),
  });
  await client.connect();
  return client;
}

/** Runs one prepared statement per item, a bounded number in flight at once. */
export async function executeConcurrent(
  client: CassandraClient,
  query: string,
  parameters: unknown[][],
  /** Statements in flight at once. Defaults to 128. */
  concurrencyLevel = 128,
): Promise<void> {
  if (parameters.length === 0) return;
  await cassandra.concurrent.executeConcurrent(client, query, parameters, { concurrencyLevel, raiseOnFirstError: true });
}

/**
 * A lightweight transaction that timed out (under contention, or with its coordinator frozen) or lost its node may or
 * may not have applied; the caller must read (a SERIAL_READ, which may go elsewhere) to learn what happened rather than
 * fail.
 */
export function outcomeUnknown(error: unknown): boolean {
  return attemptsOf(error).some((attempt) => writeTimedOut(attempt) || answerLost(attempt));
}

/** The server timed a write out (of `writeType`, if given): some replicas may hold it. */
function writeTimedOut(attempt: unknown, writeType?: string): boolean {
  return (
    (attempt as { code?: number })?.code === cassandra.types.responseErrorCodes.writeTimeout &&
    (writeType === undefined || (attempt as { writeType?: string }).writeType === writeType)
  );
}

/** No answer came: the node timed out on the client, or the connection closed under the request (its node died). */
function answerLost(attempt: unknown): boolean {
  return (
    attempt instanceof cassandra.errors.OperationTimedOutError ||
    // The driver's plain DriverError is its "Socket was closed"; its subclasses say more.
    (attempt instanceof cassandra.errors.DriverError && attempt.constructor === cassandra.errors.DriverError)
  );
}

/** What each node tried answered: the driver wraps them in one NoHostAvailableError when it tried several. */
function attemptsOf(error: unknown): unknown[] {
  return error instanceof cassandra.errors.NoHostAvailableError
    ? Object.values(error.innerErrors as Record<string, unknown>)
    : [error];
}

/**
 * Groups single-row writes into unlogged batches of up to `size` rows whose partitions have the same first replica: one
 * round trip per batch instead of per row, and each batch applied where its rows live (the coordinator forwards
 * nothing when the driver routes the batch to that replica). For writing one row into each of many partitions.
 */
export function batchesByReplica(
  client: CassandraClient,
  rows: unknown[][],
  partitionKeyOf: (row: unknown[]) => Buffer,
  size: number,
): unknown[][][] {
  const byReplica = new Map<string, unknown[][][]>();
  // One node owns everything: no need to hash every key to learn that.
  const oneNode = client.hosts.length === 1;
  for (const row of rows) {
    const replica = oneNode ? '' : (client.metadata.getReplicas(client.keyspace, partitionKeyOf(row))?.[0]?.address ?? '');
    let batches = byReplica.get(replica);
    if (!batches) byReplica.set(replica, (batches = [[]]));
    if (batches.at(-1)!.length === size) batches.push([]);
    batches.at(-1)!.push(row);
  }
  return [...byReplica.values()].flat();
}

/**
 * A logged batch that timed out on every node that answered at all (the others lost it, or could not be reached):
 * writing its batch log (nothing applied, unless a try on a node that went silent did) or applying it once its batch
 * log was written (the batch log replays it). Either way the same batch, at the same write time, may be tried again:
 * it lands the same way twice. On three nodes both other nodes must hold the batch log, so every logged batch times
 * out from the moment a node dies (or freezes) until the others convict it (15 s or more here), whichever node
 * coordinates; and with a node gone, a batch also times out when one of the two replicas left is slow. The driver's
 * own retries cannot outlast that: a query plan names each node once, and here the first try and its speculative
 * execution take both.
 */
export function batchTimedOut(error: unknown): boolean {
  const attempts = attemptsOf(error);
  const batch = (attempt: unknown) => writeTimedOut(attempt, 'BATCH_LOG') || writeTimedOut(attempt, 'BATCH');
  const unanswered = (attempt: unknown) => !(attempt instanceof cassandra.errors.ResponseError);
  return attempts.some(batch) && attempts.every((attempt) => batch(attempt) || unanswered(attempt));
}
