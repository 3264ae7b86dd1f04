import { LRUCache } from 'lru-cache';

export interface TextKeyedCacheOptions<V = unknown> {
  maxEntries: number;
  /** Characters all keys together may hold. */
  maxCharacters: number;
  /** A longer key is not kept at all (what it would have saved is done again). Defaults to 1/64 of maxCharacters. */
  maxEntryCharacters?: number;
  /** How long an entry lives; forever (until evicted) by default. */
  ttlMs?: number;
  /**
   * What a value weighs, in characters' worth, beside its key. By default nothing: a value assumed to grow no faster
   * than its key (a result). A parsed document or a plan is several times its text, and says so here.
   */
  valueSize?: (value: V) => number;
}

/**
 * An LRU cache keyed by text a client chose (an operation, its variables): bounded in entries and in the characters
 * its keys hold, so a few huge texts (a subscribe message or a body may carry a megabyte) cannot fill memory the way a
 * count alone would let them. Values are assumed to grow no faster than their keys (a document, a plan, a result).
 */
export function textKeyedCache<V extends NonNullable<unknown>>({
  maxEntries,
  maxCharacters,
  maxEntryCharacters = Math.floor(maxCharacters / 64),
  ttlMs,
  valueSize,
}: TextKeyedCacheOptions<V>): LRUCache<string, V> {
  return new LRUCache<string, V>({
    max: maxEntries,
    maxSize: maxCharacters,
    maxEntrySize: maxEntryCharacters,
    sizeCalculation: (value, key) => Math.max(1, key.length + (valueSize?.(value) ?? 0)),
    ...(ttlMs ? { ttl: ttlMs } : {}),
  });
}
