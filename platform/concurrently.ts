import { isInfrastructureFailure } from './infrastructure-errors.js';

export type Urgency = 'urgent' | 'background';

/**
 * A bound on how much work runs at once, shared by every caller in the process; when it is reached, waiting urgent work
 * goes ahead of waiting background work, each in arrival order.
 */
export class WorkBudget {
  private running = 0;
  private readonly waiting: Record<Urgency, Fifo<() => void>> = { urgent: new Fifo(), background: new Fifo() };

  private turns: Promise<void> = Promise.resolve();

  constructor(private readonly limit: number) {}

  /**
   * Background work starts one piece per turn of the event loop: a burst of it (thousands of rows to encode) would
   * otherwise run as one long synchronous stretch, and urgent work and incoming messages would wait behind it.
   */
  private nextTurn(): Promise<void> {
    this.turns = this.turns.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    return this.turns;
  }

  /**
   * Runs every task in the budget and waits for all of them to settle, then throws the first failure: a caller that
   * fails leaves none of its tasks still queued or running behind it (a retry does not pile up on the last try).
   */
  async runAll(urgency: Urgency, tasks: readonly (() => Promise<unknown>)[]): Promise<void> {
    await allSettledValues(tasks.map((task) => this.run(urgency, task)));
  }

  async run<T>(urgency: Urgency, work: () => Promise<T>): Promise<T> {
    // A finishing caller hands its place straight to the next in line, so `running` never overshoots.
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting[urgency].push(resolve));
    try {
      if (urgency === 'background') await this.nextTurn();
      return await work();
    } finally {
      const next = this.waiting.urgent.shift() ?? this.waiting.background.shift();
      if (next) next();
      else this.running--;
    }
  }
}

/**
 * Writes items one round at a time: items added while a round is being written wait, and the next round takes all that
 * waited (up to `roundSize`). At a trickle each item is written at once; in a storm one write per round trip carries
 * what gathered meanwhile, instead of a write per item. Each caller's promise settles with the round holding its items
 * (rejects if that round failed), so a delivery is acknowledged only once what it brought is written. A round refused
 * for its content (not for a dependency being away) is written again item by item, so one bad item fails alone.
 */
export class Rounds<T> {
  private readonly waiting: { item: T; settle: (error?: unknown) => void }[] = [];
  private writing = false;

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly roundSize: number,
  ) {}

  add(items: readonly T[]): Promise<void> {
    const written = items.map(
      (item) =>
        new Promise<void>((resolve, reject) => {
          this.waiting.push({ item, settle: (error) => (error === undefined ? resolve() : reject(error)) });
        }),
    );
    if (!this.writing && this.waiting.length > 0) {
      this.writing = true;
      // From the next turn: what arrives with this (the rest of a socket read's deliveries) shares its round.
      setImmediate(() => void this.drain());
    }
    return Promise.all(written).then(() => undefined);
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const round = this.waiting.splice(0, this.roundSize);
      const error = await this.attempt(round.map(({ item }) => item));
      if (error !== undefined && round.length > 1 && !isInfrastructureFailure(error)) {
        // Refused for what it holds, not for a dependency being away: each item alone, so an item's own fault fails
        // its caller only (its delivery retried and dead-lettered alone, not the others it happened to share a round with).
        await Promise.all(round.map(async ({ item, settle }) => settle(await this.attempt([item]))));
      } else {
        for (const { settle } of round) settle(error);
      }
    }
    this.writing = false;
  }

  /** The write's failure, if any. Through a promise: a write that throws at once must not stop the drain. */
  private attempt(items: T[]): Promise<unknown> {
    return Promise.resolve()
      .then(() => this.write(items))
      .then(
        () => undefined,
        (reason: unknown) => reason ?? new Error('the round was not written'),
      );
  }
}

/** A queue whose shift does not copy the rest (Array#shift does, and the waiting lines hold thousands). */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return item;
  }
}

/**
 * Every promise settled, then the first failure thrown or every value returned: a caller that fails leaves nothing of
 * its own still running behind it (a retry does not race the last try).
 */
export async function allSettledValues<T extends readonly unknown[]>(promises: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const results = await Promise.allSettled(promises);
  for (const result of results) if (result.status === 'rejected') throw result.reason;
  return results.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
