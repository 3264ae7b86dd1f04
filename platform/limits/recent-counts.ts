import { LRUCache } from 'lru-cache';

export interface RecentCountsOptions<C extends object> {
  /** What a key the count found no rows for counts. */
  none: C;
  /** How long a count read is reused, from when its read began. Defaults to 1 s. */
  ttlMs?: number;
  /** Tweets remembered at most (and tweets whose recent changes are remembered). Defaults to 50,000. */
  maxEntries?: number;
}

/**
 * Counts read in the last second, shared by every request this process serves (engagement's and the feed's counts of
 * each tweet's likes and reposts). A tweet on many timelines is shown to many viewers at once; without this, each of
 * their pages counts its rows again. A count is at most `ttlMs` behind another replica's writes, and never behind this
 * process's own: a like or repost made here forgets the tweet's count, and a read of that tweet that began before it is
 * not kept (nor joined). Pages that miss a tweet at the same moment (its count just expired, and every timeline showing
 * it is read again) join the one read already under way instead of each counting its rows.
 */
export class RecentCounts<C extends object> {
  // Both keyed by tweet ids (checked to be tweet ids, but any number of them): bounded by entries.
  private readonly entries: LRUCache<string, C>;
  /** The change number of each tweet's latest change made here. */
  private readonly changedAt: LRUCache<string, number>;
  /** Reads under way, by tweet, with when each began: at most the tweets of the pages being read right now. */
  private readonly reading = new Map<string, { read: Promise<C>; startedAt: number }>();
  private changes = 0;
  private readonly ttlMs: number;
  private readonly none: C;

  constructor({ none, ttlMs = 1_000, maxEntries = 50_000 }: RecentCountsOptions<C>) {
    this.none = none;
    this.ttlMs = Math.max(ttlMs, 1);
    this.entries = new LRUCache({ max: maxEntries, ttl: this.ttlMs });
    this.changedAt = new LRUCache({ max: maxEntries });
  }

  /**
   * The tweets' counts: the remembered ones as they are, those being read already from that read, the rest through
   * `count` in one call.
   */
  async read(tweetIds: readonly string[], count: (tweetIds: string[]) => Promise<Map<string, C>>) {
    const found = new Map<string, C>();
    const joined: [string, Promise<C>][] = [];
    const missing: string[] = [];
    for (const id of tweetIds) {
      const counts = this.entries.get(id);
      const underWay = this.reading.get(id);
      if (counts) found.set(id, counts);
      // Joined only while it is younger than the ttl: a slow read (retries, timeouts) is not an answer for later asks.
      else if (underWay && performance.now() - underWay.startedAt < this.ttlMs) joined.push([id, underWay.read]);
      else missing.push(id);
    }
    if (missing.length > 0) joined.push(...this.readAndKeep(missing, count));
    for (const [id, counts] of joined) found.set(id, await counts);
    return found;
  }

  /** One read of the tweets' counts, each tweet's part of it open for others to join until it settles. */
  private readAndKeep(missing: string[], count: (tweetIds: string[]) => Promise<Map<string, C>>) {
    const [changesBefore, startedAt] = [this.changes, performance.now()];
    const counted = count(missing);
    return missing.map((id): [string, Promise<C>] => {
      const read = counted.then((all) => {
        const counts = all.get(id) ?? this.none;
        // Kept for what is left of the ttl since the read began, unless the tweet changed here meanwhile: that read
        // may or may not hold the change, so it is used by those who asked before the change and not kept.
        const ttl = Math.floor(this.ttlMs - (performance.now() - startedAt));
        if (ttl > 0 && (this.changedAt.get(id) ?? 0) <= changesBefore) this.entries.set(id, counts, { ttl });
        return counts;
      });
      this.reading.set(id, { read, startedAt });
      const done = () => {
        if (this.reading.get(id)?.read === read) this.reading.delete(id);
      };
      read.then(done, done);
      return [id, read];
    });
  }

  /** This process changed (or may have changed) the tweet's engagements: the next read counts again. */
  changed(tweetId: string): void {
    this.changedAt.set(tweetId, ++this.changes);
    this.entries.delete(tweetId);
    // A read under way may not hold the change: reads asked from now on do not join it.
    this.reading.delete(tweetId);
  }
}
