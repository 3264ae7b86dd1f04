import { LRUCache } from 'lru-cache';

import type { EngagementKind } from './model.js';

export type Counts = Record<EngagementKind, number>;

/**
 * Counts read in the last second, shared by every request this process serves. A tweet on many timelines is shown to
 * many viewers at once; without this, each of their pages counts its rows again. A count is at most `ttlMs` behind
 * another replica's writes, and never behind this process's own: a like or repost made here forgets the tweet's count,
 * and a read that began before it is not kept.
 */
export class RecentCounts {
  // Keyed by tweet ids (checked to be tweet ids, but any number of them): bounded by entries.
  private readonly entries: LRUCache<string, Counts>;
  private changes = 0;

  constructor({ ttlMs = 1_000, maxEntries = 50_000 } = {}) {
    this.entries = new LRUCache({ max: maxEntries, ttl: Math.max(ttlMs, 1) });
  }

  /** The tweets' counts: the remembered ones as they are, the rest through `count` in one call. */
  async read(tweetIds: readonly string[], count: (tweetIds: string[]) => Promise<Map<string, Counts>>) {
    const found = new Map<string, Counts>();
    const missing: string[] = [];
    for (const id of tweetIds) {
      const counts = this.entries.get(id);
      if (counts) found.set(id, counts);
      else missing.push(id);
    }
    if (missing.length === 0) return found;
    const changesBefore = this.changes;
    const counted = await count(missing);
    // A change made here while counting may or may not be in what was read: use it once, keep none of it.
    const keep = this.changes === changesBefore;
    for (const id of missing) {
      const counts = counted.get(id) ?? { like: 0, repost: 0 };
      found.set(id, counts);
      if (keep) this.entries.set(id, counts);
    }
    return found;
  }

  /** This process changed the tweet's engagements: the next read counts again. */
  changed(tweetId: string): void {
    this.changes++;
    this.entries.delete(tweetId);
  }
}
