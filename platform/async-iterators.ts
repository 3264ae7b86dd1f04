/**
 * The two shapes of async iteration live subscriptions need: a bounded queue that producers push into and one
 * consumer reads, and a mapping of one iterator into another that ends (once) however it ends.
 */

/** A bounded queue read as an async iterator: push() from producers, for-await (or next()) by one consumer. */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting?: (result: IteratorResult<T>) => void;
  private failing?: (error: unknown) => void;
  private ended = false;
  /** end() or fail() was called: the queue ends (with its error, if any) once what it still holds has been read. */
  private closing?: { error: unknown };

  constructor(
    /** Items held for a consumer that is not keeping up; push() refuses beyond it. */
    private readonly capacity: number,
    /** Runs once when the queue ends, whoever ends it. */
    private readonly onEnd?: () => void,
  ) {}

  get length(): number {
    return this.items.length;
  }

  /** Hands an item to the consumer; false (and nothing queued) when the queue is full or has ended. */
  push(item: T): boolean {
    if (this.ended || this.closing) return false;
    if (this.waiting) {
      const resolve = this.waiting;
      this.clearWaiter();
      resolve({ done: false, value: item });
      return true;
    }
    if (this.items.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /**
   * Ends the queue once the consumer has read what it holds (the producer is done): next() then resolves done, or
   * rejects with `error` when one is given. push() refuses from now on.
   */
  end(error?: unknown): void {
    if (this.closing || this.ended) return;
    this.close(error);
  }

  /** The consumer's next() rejects with `error` (at once; what is still queued is dropped), then the queue ends. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.items.length = 0;
    this.close(error);
  }

  async next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return { done: false, value: this.items.shift()! };
    if (this.closing && !this.ended) {
      this.finish();
      if (this.closing.error !== undefined) throw this.closing.error;
    }
    if (this.ended) return { done: true, value: undefined };
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.waiting = resolve;
      this.failing = reject;
    });
  }

  /** Ends the queue: a pending next() resolves done, queued items are dropped. */
  async return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.finish();
    const resolve = this.waiting;
    this.clearWaiter();
    resolve?.({ done: true, value: undefined });
    return { done: true, value: undefined };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** From now on the queue ends when it is empty: at once for a consumer already waiting. */
  private close(error: unknown) {
    this.closing = { error };
    if (this.items.length > 0 || !this.waiting) return;
    const [resolve, reject] = [this.waiting, this.failing!];
    this.clearWaiter();
    this.finish();
    if (error === undefined) resolve({ done: true, value: undefined });
    else reject(error);
  }

  /** Runs once when the queue ends, whoever ends it: `onEnd`, unless a subclass does otherwise. */
  protected finished(): void {
    this.onEnd?.();
  }

  private finish() {
    if (this.ended) return;
    this.ended = true;
    this.finished();
  }

  private clearWaiter() {
    this.waiting = undefined;
    this.failing = undefined;
  }
}

/** What a mapping returns to drop a value instead of passing it on. */
export const SKIP: unique symbol = Symbol('skip');

/**
 * Each value of `source` through `map` (which may drop it with SKIP). return() and throw() reach the source, and
 * `onEnd` runs once when the mapped iterator ends: exhausted, returned, thrown into, or failed. A failure of `source` or
 * `map` reaches the reader as `mapError` makes it (as it is, by default).
 *
 * A mapping of a fresh mapping with no onEnd or mapError of its own is made one mapping of both: each value then
 * passes one chain of awaits instead of two (every live frame in the router is a subscription's events mapped through
 * the rest of its plan, then guarded for its client), and an idle subscription holds one iterator less.
 */
export function mapAsyncIterator<T, U>(
  source: AsyncIterator<T>,
  map: (value: T) => U | typeof SKIP | Promise<U | typeof SKIP>,
  onEnd?: () => void,
  mapError?: (error: unknown) => unknown,
): AsyncIterableIterator<U> {
  if (source instanceof Mapped && source.fusable()) {
    const inner: Mapped<unknown, T> = source;
    const first = inner.map;
    return new Mapped(
      inner.source,
      async (value: unknown) => {
        const middle = await first(value);
        return middle === SKIP ? SKIP : map(middle);
      },
      onEnd,
      mapError,
    );
  }
  return new Mapped(source, map, onEnd, mapError);
}

/** mapAsyncIterator's iterator: its methods on the prototype, so each of the thousands held costs a few fields. */
class Mapped<T, U> implements AsyncIterableIterator<U> {
  private ended = false;
  private read = false;

  constructor(
    readonly source: AsyncIterator<T>,
    readonly map: (value: T) => U | typeof SKIP | Promise<U | typeof SKIP>,
    private readonly onEnd?: () => void,
    private readonly mapError?: (error: unknown) => unknown,
  ) {}

  /** Nothing has read or ended it, and nothing of its own runs when it ends: it can be folded into its mapping. */
  fusable(): boolean {
    return !this.read && !this.ended && !this.onEnd && !this.mapError;
  }

  async next(): Promise<IteratorResult<U>> {
    this.read = true;
    try {
      for (;;) {
        const next = await this.source.next();
        if (next.done) {
          this.end();
          return { done: true, value: undefined };
        }
        let value: U | typeof SKIP;
        try {
          value = await this.map(next.value);
        } catch (error) {
          // Whoever reads a failed iterator does not return() it (graphql-ws does not): the source is let go here.
          void Promise.resolve(this.source.return?.()).catch(() => {});
          throw error;
        }
        if (value !== SKIP) return { done: false, value };
      }
    } catch (error) {
      this.end();
      throw this.mapError ? this.mapError(error) : error;
    }
  }

  async return(): Promise<IteratorResult<U>> {
    this.end();
    await this.source.return?.();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<U>> {
    this.end();
    if (this.source.throw) await this.source.throw(error);
    throw error;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<U> {
    return this;
  }

  private end() {
    if (this.ended) return;
    this.ended = true;
    this.onEnd?.();
  }
}
