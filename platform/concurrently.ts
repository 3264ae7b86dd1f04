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
    const results = await Promise.allSettled(tasks.map((task) => this.run(urgency, task)));
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
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
