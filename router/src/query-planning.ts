import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

import type { QueryPlan } from '@apollo/query-planner';
import { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';

import { ErrorCode } from '../../platform/errors.js';
import type { Logger } from '../../platform/logging.js';

export interface QueryPlanningOptions {
  supergraphSdl: string;
  /** How long one operation may be planned before it is refused. Defaults to 1 s. */
  deadlineMs?: number;
  /** Operations waiting for the planner, all clients together, before more are refused. Defaults to 1,024. */
  maxWaiting?: number;
  /** Operations one client may have waiting or being planned at once. Defaults to 32. */
  maxPerClient?: number;
  /** Operations each planning thread plans before it takes work, to be warm. */
  warmUp?: readonly string[];
  logger: Logger;
}

interface Job {
  query: string;
  operationName: string | undefined;
  key: string;
  client: string;
  resolve(plan: QueryPlan): void;
  reject(error: GraphQLError): void;
}

type WorkerMessage = { ready: true } | { id: number; plan: QueryPlan } | { id: number; failure: string };

/** Operations refused for their planning, remembered so that sending one again costs nothing. */
const REMEMBERED_REFUSALS = 10_000;

/** A planner's heap; a plan that needs more fails (and is refused) instead of growing the router. */
const WORKER_HEAP_MB = 512;

/** A worker thread running the planner over the supergraph, ready once it has built it and warmed up (a second or two). */
class PlannerThread {
  readonly worker: Worker;
  ready = false;

  constructor(
    supergraphSdl: string,
    warmUp: readonly string[],
    onMessage: (thread: PlannerThread, message: WorkerMessage) => void,
    onFailure: (thread: PlannerThread, error: Error) => void,
  ) {
    this.worker = new Worker(new URL('./query-planning-worker.mjs', import.meta.url), {
      workerData: { supergraphSdl, warmUp },
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    this.worker.unref();
    this.worker.on('message', (message: WorkerMessage) => {
      if ('ready' in message) this.ready = true;
      onMessage(this, message);
    });
    this.worker.on('error', (error) => onFailure(this, error));
  }

  stop(): Promise<number> {
    this.worker.removeAllListeners();
    return this.worker.terminate();
  }
}

/**
 * The federation query planner on a worker thread, with a deadline. Planning is pure CPU whose cost grows steeply with
 * an operation's shape (a handful of aliased `feed { … author { tweets { … } } }` selections, within every limit, took
 * seconds): on the router's only thread it stalled every other client. Here a plan that takes too long is abandoned
 * (its thread is replaced by a standby already warm) and the operation refused with QUERY_TOO_COMPLEX; operations are
 * planned one at a time, so planning never takes more than one core, and clients take turns (one operation each), so
 * one client sending many slow operations cannot keep others' new operations from being planned. The gateway and the subscriptions cache the plans they get.
 */
export class QueryPlanning {
  private current: PlannerThread;
  private standby: PlannerThread;
  private running: (Job & { id: number; timer: NodeJS.Timeout }) | undefined;
  /**
   * Jobs waiting, each tagged with its turn: a client's first job waits for the current turn, each further one a turn
   * later than its previous (start-time fair queuing). The lowest turn is planned next, so clients take turns.
   */
  private readonly waiting: (Job & { turn: number })[] = [];
  /** The turn of the job planned last. */
  private turn = 0;
  /** Per client with jobs waiting or running (so never more entries than jobs): how many, and its last job's turn. */
  private readonly perClient = new Map<string, { jobs: number; lastTurn: number }>();
  /** Plans being made, by operation: as many entries as jobs. */
  private readonly inFlight = new Map<string, Promise<QueryPlan>>();
  private readonly refused = new LRUCache<string, GraphQLError>({ max: REMEMBERED_REFUSALS });
  private nextId = 0;
  private closed = false;
  private readonly deadlineMs: number;
  private readonly maxWaiting: number;
  private readonly maxPerClient: number;

  constructor(private readonly options: QueryPlanningOptions) {
    this.deadlineMs = options.deadlineMs ?? 1_000;
    this.maxWaiting = options.maxWaiting ?? 1_024;
    this.maxPerClient = options.maxPerClient ?? 32;
    this.current = this.startThread();
    this.standby = this.startThread();
  }

  /**
   * The plan of one operation of `query`, planned off the main thread within the deadline, or a coded refusal.
   * `client` (its address) is what the per-client share counts.
   */
  plan(query: string, operationName: string | undefined, client = 'unknown'): Promise<QueryPlan> {
    const key = createHash('sha256')
      .update(query)
      .update(`\u0000${operationName ?? ''}`)
      .digest('base64');
    const refusal = this.refused.get(key);
    if (refusal) return Promise.reject(refusal);
    // A burst of the same new operation (a client's first page, a thousand subscribers resubscribing) is planned once.
    const planning = this.inFlight.get(key);
    if (planning) return planning;
    if (this.closed) return Promise.reject(unavailable('The router is shutting down.'));
    if (this.waiting.length >= this.maxWaiting)
      return Promise.reject(unavailable('The router is busy planning other operations; try again shortly.'));
    const held = this.perClient.get(client) ?? { jobs: 0, lastTurn: -1 };
    if (held.jobs >= this.maxPerClient)
      return Promise.reject(
        new GraphQLError(`At most ${this.maxPerClient} new operations of yours are planned at once; try again shortly.`, {
          extensions: { code: ErrorCode.RATE_LIMITED, retryAfterSeconds: 1, http: { status: 429 } },
        }),
      );
    const turn = Math.max(this.turn, held.lastTurn + 1);
    this.perClient.set(client, { jobs: held.jobs + 1, lastTurn: turn });
    const planned = new Promise<QueryPlan>((resolve, reject) => {
      this.waiting.push({ query, operationName, key, client, resolve, reject, turn });
      this.dispatch();
    }).finally(() => {
      this.inFlight.delete(key);
      const counted = this.perClient.get(client);
      if (counted && --counted.jobs === 0) this.perClient.delete(client);
    });
    this.inFlight.set(key, planned);
    return planned;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(unavailable('The router is shutting down.'));
    if (this.running) this.finishRunning()?.reject(unavailable('The router is shutting down.'));
    await Promise.all([this.current.stop(), this.standby.stop()]);
  }

  private startThread(): PlannerThread {
    return new PlannerThread(
      this.options.supergraphSdl,
      this.options.warmUp ?? [],
      (thread, message) => this.received(thread, message),
      (thread, error) => {
        this.options.logger.error('a query planning thread failed; replacing it', { error: error.message });
        if (thread === this.current) {
          const job = this.finishRunning();
          if (job) job.reject(this.remember(job.key, tooComplex('The router cannot plan this operation.')));
          this.replaceCurrent();
        } else if (thread === this.standby) {
          void thread.stop();
          if (!this.closed) this.standby = this.startThread();
        }
      },
    );
  }

  /** The standby takes over (the current thread may be deep inside a plan); a new standby warms up behind it. */
  private replaceCurrent(): void {
    void this.current.stop();
    if (this.closed) return;
    this.current = this.standby;
    this.standby = this.startThread();
    this.dispatch();
  }

  private finishRunning(): Job | undefined {
    const job = this.running;
    this.running = undefined;
    if (job) clearTimeout(job.timer);
    return job;
  }

  private received(thread: PlannerThread, message: WorkerMessage): void {
    if (thread !== this.current) return; // the standby is ready: it waits for its turn
    if ('ready' in message) return this.dispatch();
    if (this.running?.id !== message.id) return;
    const job = this.finishRunning()!;
    if ('plan' in message) job.resolve(message.plan);
    else job.reject(this.remember(job.key, tooComplex(`The router cannot plan this operation: ${message.failure}`)));
    this.dispatch();
  }

  private dispatch(): void {
    if (!this.current.ready || this.running) return;
    if (this.waiting.length === 0) return;
    let next = 0;
    for (let index = 1; index < this.waiting.length; index++)
      if (this.waiting[index].turn < this.waiting[next].turn) next = index;
    const [job] = this.waiting.splice(next, 1);
    this.turn = job.turn;
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.options.logger.warn('refused an operation that took too long to plan', { deadlineMs: this.deadlineMs });
      this.finishRunning();
      job.reject(
        this.remember(job.key, tooComplex(`The operation takes too long to plan (over ${this.deadlineMs} ms): simplify it.`)),
      );
      this.replaceCurrent();
    }, this.deadlineMs);
    this.running = { ...job, id, timer };
    this.current.worker.postMessage({ id, query: job.query, operationName: job.operationName });
  }

  private remember(key: string, error: GraphQLError): GraphQLError {
    this.refused.set(key, error);
    return error;
  }
}

const tooComplex = (message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, http: { status: 400 } } });

const unavailable = (message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.SERVICE_UNAVAILABLE, http: { status: 503 } } });
