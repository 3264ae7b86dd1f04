/** Live notifications per bucket of creation time: the recipient's unread count, kept beside their notifications. */
export type UnreadBuckets = ReadonlyMap<number, number>;

/**
 * How long notifications are kept, and the buckets that keep the unread count exact as they expire. Every notification
 * made in one bucket (a 60th of the retention, at least a second) expires at the same moment: the end of its bucket
 * plus the retention. The unread count is the sum of the buckets not yet expired, so a notification expiring unread
 * leaves the count when it leaves the list, without anything scanning or rewriting the count.
 */
export class Retention {
  readonly bucketMs: number;

  constructor(readonly retentionSeconds: number) {
    this.bucketMs = Math.max(1_000, Math.ceil(retentionSeconds / 60) * 1_000);
  }

  bucketOf(createdAtMs: number): number {
    return Math.floor(createdAtMs / this.bucketMs);
  }

  bucketEndMs(bucket: number): number {
    return (bucket + 1) * this.bucketMs;
  }

  expiresAtMs(bucket: number): number {
    return (bucket + 1) * this.bucketMs + this.retentionSeconds * 1_000;
  }

  /** The TTL (seconds) that makes a row of this bucket written now expire with its bucket; 0 once it has expired. */
  ttlSeconds(bucket: number, nowMs: number): number {
    return Math.max(0, Math.ceil((this.expiresAtMs(bucket) - nowMs) / 1_000));
  }

  unreadCount(buckets: UnreadBuckets, nowMs: number): number {
    let count = 0;
    for (const [bucket, unread] of buckets) if (this.expiresAtMs(bucket) > nowMs) count += unread;
    return count;
  }
}
