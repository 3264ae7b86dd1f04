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
  /** Operations waiting for the planner before more are refused. Defaults to 64. */
  maxWaiting?: number;
  logger: Logger;
}

interface Job {
  query: string;
  operationName: string | undefined;
  key: string;
  resolve(plan: QueryPlan): void;
  reject(error: GraphQLError): void;
}

type WorkerMessage = { ready: true } | { id: number; plan: QueryPlan } | { id: number; failure: string };

/** Operations refused for their planning, remembered so that sending one again costs nothing. */
const REMEMBERED_REFUSALS = 10_000;

/**
 * The federation query planner on a worker thread, with a deadline. Planning is pure CPU whose cost grows steeply with
 * an operation's shape (a handful of aliased `feed { … author { tweets { … } } }` selections, within every limit, took
 * seconds): on the router's only thread it stalled every other client. Here a plan that takes too long is abandoned
 * (the worker is replaced) and the operation refused with QUERY_TOO_COMPLEX; operations are planned one at a time, so
 * planning never takes more than one core. The gateway and the subscriptions keep caching the plans they get.
 */
export class QueryPlanning {
  private worker!: Worker;
  private ready = false;
  private running: (Job & { id: number; timer: NodeJS.Timeout }) | undefined;
  private readonly waiting: Job[] = [];
  private readonly refused = new LRUCache<string, GraphQLError>({ max: REMEMBERED_REFUSALS });
  private nextId = 0;
  private closed = false;
  private readonly deadlineMs: number;
  private readonly maxWaiting: number;

  constructor(private readonly options: QueryPlanningOptions) {
    this.deadlineMs = options.deadlineMs ?? 1_000;
    this.maxWaiting = options.maxWaiting ?? 64;
    this.startWorker();
  }

  /** The plan of one operation of `query`, planned off the main thread within the deadline, or a coded refusal. */
  plan(query: string, operationName: string | undefined): Promise<QueryPlan> {
    const key = createHash('sha256')
      .update(query)
      .update(`\u0000${operationName ?? ''}`)
      .digest('base64');
    const refusal = this.refused.get(key);
    if (refusal) return Promise.reject(refusal);
    if (this.closed) return Promise.reject(unavailable('The router is shutting down.'));
    if (this.waiting.length >= this.maxWaiting)
      return Promise.reject(unavailable('The router is busy planning other operations; try again shortly.'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ query, operationName, key, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.waiting.splice(0)) job.reject(unavailable('The router is shutting down.'));
    await this.worker.terminate();
  }

  private startWorker(): void {
    this.ready = false;
    const worker = new Worker(new URL('./query-planning-worker.mjs', import.meta.url), {
      workerData: { supergraphSdl: this.options.supergraphSdl },
    });
    this.worker = worker;
    worker.unref();
    worker.on('message', (message: WorkerMessage) => this.received(message));
    worker.on('error', (error) => {
      this.options.logger.error('the query planning worker failed; starting another', { error: error.message });
      this.replaceWorker(unavailable('The router could not plan this operation; try again.'));
    });
  }

  /** Ends the running job with `error` and starts a fresh worker (the old one may be deep inside a plan). */
  private replaceWorker(error: GraphQLError): void {
    const job = this.running;
    this.running = undefined;
    if (job) {
      clearTimeout(job.timer);
      job.reject(error);
    }
    const old = this.worker;
    old.removeAllListeners();
    void old.terminate();
    if (!this.closed) this.startWorker();
  }

  private received(message: WorkerMessage): void {
    if ('ready' in message) {
      this.ready = true;
      this.dispatch();
      return;
    }
    const job = this.running;
    if (!job || job.id !== message.id) return;
    clearTimeout(job.timer);
    this.running = undefined;
    if ('plan' in message) job.resolve(message.plan);
    else job.reject(this.remember(job.key, tooComplex(`The router cannot plan this operation: ${message.failure}`)));
    this.dispatch();
  }

  private dispatch(): void {
    if (!this.ready || this.running) return;
    const job = this.waiting.shift();
    if (!job) return;
    const id = this.nextId++;
    const timer = setTimeout(() => {
      this.options.logger.warn('refused an operation that took too long to plan', { deadlineMs: this.deadlineMs });
      this.remember(job.key, tooComplex(`The operation takes too long to plan (over ${this.deadlineMs} ms): simplify it.`));
      this.replaceWorker(this.refused.get(job.key)!);
    }, this.deadlineMs);
    this.running = { ...job, id, timer };
    this.worker.postMessage({ id, query: job.query, operationName: job.operationName });
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
