import cassandra from 'cassandra-driver';

type Decision = cassandra.policies.retry.DecisionInfo;
type RequestInfo = cassandra.policies.retry.OperationInfo & { executionOptions?: { isIdempotent(): boolean } };

/**
 * Tries of one statement after its first, when it can be tried again safely, each on the next node of the query plan.
 * The plan names each node once, so on three nodes it runs out first; a caller that must outlast a lost node's
 * conviction (the outbox, see batchTimedOut) tries again itself.
 */
const MAX_RETRIES = 4;

/**
 * The driver's default policy tries a timed-out write once more only when its batch log write failed, never an
 * idempotent write that timed out, and a timed-out read only when enough replicas answered. Here all of them go to the
 * next node, up to MAX_RETRIES times: a batch whose batch log could not be written applied nothing, every statement
 * not a lightweight transaction or schema change lands the same way twice, and a read changes nothing.
 */
export class NodeLossRetryPolicy extends cassandra.policies.retry.RetryPolicy {
  override onWriteTimeout(
    info: RequestInfo,
    consistency: cassandra.types.consistencies,
    received: number,
    blockFor: number,
    writeType: string,
  ): Decision {
    const safe = writeType === 'BATCH_LOG' || (info.executionOptions?.isIdempotent() ?? false);
    if (safe && info.nbRetry < MAX_RETRIES) return this.retryResult(consistency, false);
    return super.onWriteTimeout(info, consistency, received, blockFor, writeType);
  }

  override onReadTimeout(
    info: RequestInfo,
    consistency: cassandra.types.consistencies,
    received: number,
    blockFor: number,
    isDataPresent: boolean,
  ): Decision {
    // A read changes nothing: one that waited on a replica that stopped answering is asked of the next node.
    if (info.nbRetry < MAX_RETRIES) return this.retryResult(consistency, false);
    return super.onReadTimeout(info, consistency, received, blockFor, isDataPresent);
  }

  override onUnavailable(
    info: RequestInfo,
    consistency: cassandra.types.consistencies,
    required: number,
    alive: boolean,
  ): Decision {
    // A coordinator that believes too few replicas are alive may be the one that is wrong: ask the others.
    if (info.nbRetry < MAX_RETRIES) return this.retryResult(consistency, false);
    return super.onUnavailable(info, consistency, required, alive);
  }
}
