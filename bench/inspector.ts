import WebSocket from 'ws';

/** A full collection of a large heap takes seconds; none takes this long. */
const ANSWER_TIMEOUT_MS = 60_000;

/** A minimal client of the V8 inspector protocol over a service's loopback debugging port (node --inspect). */
export class Inspector {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiter = message.id === undefined ? undefined : this.waiting.get(message.id);
      if (!waiter) return;
      this.waiting.delete(message.id!);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    });
    // A debugger link that ends fails what waits on it, rather than leaving the benchmark waiting for ever.
    socket.on('close', () => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error('the inspector link closed'));
      this.waiting.clear();
    });
  }

  static async connect(port: number): Promise<Inspector> {
    const [target] = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new Inspector(socket);
  }

  send<T = any>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.socket.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`${method}: the inspector link is closed`));
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${method}: no answer from the inspector in ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      const settled = () => clearTimeout(timer);
      this.waiting.set(id, {
        resolve: (value) => (settled(), resolve(value)),
        reject: (error) => (settled(), reject(error)),
      });
    });
  }

  /** Bytes of V8 heap in use right after a full collection: what the process holds, not garbage in waiting. */
  async heapUsedAfterCollection(): Promise<number> {
    await this.send('HeapProfiler.collectGarbage');
    return (await this.send<{ usedSize: number }>('Runtime.getHeapUsage')).usedSize;
  }

  /** A process with a debugger attached waits for it to leave before exiting. */
  close(): void {
    this.socket.close();
  }
}
