import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';

import { NodeLossRetryPolicy } from '../../platform/cassandra/retry-policy.js';

// The driver's decisions, as its JavaScript exports them (its typings name them under a namespace only).
const { retryDecision } = cassandra.policies.retry.RetryPolicy as unknown as {
  retryDecision: { rethrow: number; retry: number };
};
const { localQuorum } = cassandra.types.consistencies;
const policy = new NodeLossRetryPolicy();
const info = (nbRetry: number, idempotent: boolean) =>
  ({ nbRetry, query: '', executionOptions: { isIdempotent: () => idempotent } }) as never;

describe('retries when a Cassandra node is lost', () => {
  it('tries a timed-out write on the next node only when trying it again is safe, at most 4 times', () => {
    const write = (nbRetry: number, idempotent: boolean, writeType: string) =>
      policy.onWriteTimeout(info(nbRetry, idempotent), localQuorum, 1, 2, writeType);
    expect(write(0, true, 'SIMPLE')).toMatchObject({ decision: retryDecision.retry, useCurrentHost: false });
    expect(write(0, false, 'BATCH_LOG')).toMatchObject({ decision: retryDecision.retry, useCurrentHost: false });
    // A lightweight transaction (or any write run NOT_IDEMPOTENT) may have applied: its caller settles it.
    expect(write(0, false, 'CAS').decision).toBe(retryDecision.rethrow);
    expect(write(0, false, 'SIMPLE').decision).toBe(retryDecision.rethrow);
    expect(write(3, true, 'BATCH').decision).toBe(retryDecision.retry);
    expect(write(4, true, 'BATCH').decision).toBe(retryDecision.rethrow);
  });

  it('asks the next node after a read timeout or an unavailable answer, at most 4 times', () => {
    expect(policy.onReadTimeout(info(0, true), localQuorum, 1, 2, false)).toMatchObject({ decision: retryDecision.retry });
    expect(policy.onReadTimeout(info(4, true), localQuorum, 1, 2, false).decision).toBe(retryDecision.rethrow);
    expect(policy.onUnavailable(info(1, false), localQuorum, 2, false)).toMatchObject({ useCurrentHost: false });
    expect(policy.onUnavailable(info(4, false), localQuorum, 2, false).decision).toBe(retryDecision.rethrow);
  });
});
