import { type ChildProcess, spawn } from 'node:child_process';

export interface SupervisorOptions {
  env: NodeJS.ProcessEnv;
  /** Command line of a service: node with these arguments before its entry. Defaults to running it with tsx. */
  nodeArguments?: string[];
  /** The first restart waits this long, doubling each time. Defaults to 1 s. */
  initialBackoffMs?: number;
  /** Restarts never wait longer than this. Defaults to 30 s. */
  maxBackoffMs?: number;
  /** A service that stayed up this long starts its back-off afresh. Defaults to 60 s. */
  resetAfterMs?: number;
  /** Text in a service's stderr that says it is ready. Defaults to "listening". */
  readyMarker?: string;
  log?: (message: string) => void;
}

interface Supervised {
  name: string;
  entry: string;
  child?: ChildProcess;
  startedAt: number;
  restarts: number;
  backoffMs: number;
  restartTimer?: NodeJS.Timeout;
}

/**
 * Runs services as child processes the way an orchestrator would: one that exits unexpectedly is logged and started
 * again after a back-off that doubles (capped, and reset once it has stayed up), while the others keep serving.
 * stopAll() stops every one with SIGTERM and waits for them.
 */
export class Supervisor {
  private readonly services = new Map<string, Supervised>();
  private stopping = false;

  constructor(private readonly options: SupervisorOptions) {}

  /** Starts a service; resolves once it says it is ready (or rejects if it exits before). */
  start(name: string, entry: string): Promise<void> {
    const service: Supervised = { name, entry, startedAt: 0, restarts: 0, backoffMs: this.options.initialBackoffMs ?? 1_000 };
    this.services.set(name, service);
    return this.launch(service);
  }

  /** How many times a service was started again after exiting. */
  restartsOf(name: string): number {
    return this.services.get(name)?.restarts ?? 0;
  }

  pidOf(name: string): number | undefined {
    return this.services.get(name)?.child?.pid;
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.services.values()].map(
        (service) =>
          new Promise<void>((resolve) => {
            clearTimeout(service.restartTimer);
            const child = service.child;
            if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      ),
    );
  }

  private launch(service: Supervised): Promise<void> {
    const log = this.options.log ?? ((message: string) => console.error(message));
    const marker = this.options.readyMarker ?? 'listening';
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [...(this.options.nodeArguments ?? ['--import', 'tsx']), service.entry], {
        env: this.options.env,
        stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      });
      service.child = child;
      service.startedAt = Date.now();
      let ready = false;
      child.stderr!.on('data', (chunk: Buffer) => {
        process.stderr.write(chunk);
        if (!ready && chunk.toString().includes(marker)) {
          ready = true;
          resolve();
        }
      });
      child.on('exit', (code, signal) => {
        if (!ready) reject(new Error(`${service.name} exited (${signal ?? code}) before it was ready`));
        if (this.stopping) return;
        if (Date.now() - service.startedAt >= (this.options.resetAfterMs ?? 60_000)) {
          service.backoffMs = this.options.initialBackoffMs ?? 1_000;
        }
        const delay = service.backoffMs;
        service.backoffMs = Math.min(delay * 2, this.options.maxBackoffMs ?? 30_000);
        log(`${service.name} exited unexpectedly (${signal ?? code}); restarting it in ${delay} ms`);
        service.restartTimer = setTimeout(() => {
          service.restarts++;
          this.launch(service).catch((error: Error) => log(error.message));
        }, delay);
      });
    });
  }
}
