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
   * What a value weighs, in characters' worth, beside its key. By default nothing, for values that cannot outgrow
   * their key (a verdict); a parsed document, a plan or an answer is weighed here.
   */
  valueSize?: (value: V) => number;
}

/**
 * An LRU cache keyed by text a client chose (an operation, its variables): bounded in entries and in the characters
 * its keys hold, so a few huge texts (a subscribe message or a body may carry a megabyte) cannot fill memory the way a
 * count alone would let them. Values that can outgrow their keys are weighed too (`valueSize`).
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

/** Answers still to come, shared by whoever asks the same thing meanwhile (see textKeyedAnswers). */
export interface TextKeyedAnswers<V> {
  get(key: string): Promise<V> | undefined;
  /** Keeps `answer` under `key`: weighed by its key until it arrives, then by what arrived too; forgotten if it fails. */
  set(key: string, answer: Promise<V>): void;
  delete(key: string): void;
  /** What the entries weigh together, in characters' worth. */
  readonly calculatedSize: number;
}

/**
 * A textKeyedCache of promised answers (fetches in flight, and what they brought for a while after). What an answer
 * weighs (`valueSize`) is known only once it arrives, so its entry is weighed again then, keeping its time to live;
 * one heavier than an entry may be is dropped then (it is fetched again, not shared). One that fails is forgotten, so
 * the next asker asks again rather than sharing the failure.
 */
export function textKeyedAnswers<V extends NonNullable<unknown>>({
  valueSize,
  ...options
}: TextKeyedCacheOptions<V>): TextKeyedAnswers<V> {
  const entries = textKeyedCache<{ answer: Promise<V>; arrived?: V }>({
    ...options,
    valueSize: ({ arrived }) => (arrived === undefined ? 0 : (valueSize?.(arrived) ?? 0)),
  });
  return {
    get: (key) => entries.get(key)?.answer,
    set: (key, answer) => {
      const entry = { answer };
      entries.set(key, entry);
      // A new entry object: lru-cache weighs a value again only when it is replaced by another.
      void answer.then(
        (arrived) => {
          if (entries.peek(key) === entry) entries.set(key, { answer, arrived }, { noUpdateTTL: true });
        },
        () => {
          if (entries.peek(key) === entry) entries.delete(key);
        },
      );
    },
    delete: (key) => void entries.delete(key),
    get calculatedSize() {
      return entries.calculatedSize;
    },
  };
}
