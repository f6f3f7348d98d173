// The pool behind `offload`: a few worker threads started when first needed, each unreferenced while idle so that
// an idle pool never keeps a process alive. A task goes to the worker with the fewest tasks; a worker that dies
// fails its own tasks with INTERNAL and is replaced by the next task.
import { Worker } from 'node:worker_threads';
import { ERROR_CODES, TiffinError, type ErrorCode } from '../errors/index.ts';

const ENTRY = new URL('./offload-worker.js', import.meta.url);

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
}

interface WorkerError {
  name?: string;
  code?: unknown;
  message: string;
  details?: unknown;
  status?: number;
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: WorkerError;
}

/** A TiffinError thrown in the worker comes back as one, with its code, details and status. */
function rebuild(e: WorkerError): Error {
  if (e.name === 'TiffinError' && typeof e.code === 'string' && e.code in ERROR_CODES) {
    return new TiffinError(e.code as ErrorCode, e.message, { details: e.details, ...(e.status !== undefined ? { status: e.status } : {}) });
  }
  return new TiffinError('INTERNAL', `offloaded work failed: ${e.message}`);
}

export class OffloadPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly threads: number) {}

  /** Calls export `fn` of the module at `moduleUrl` in a worker with `args` (structured-cloned, but for `transfer`). */
  run<T>(moduleUrl: string, fn: string, args: readonly unknown[], transfer: readonly ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new TiffinError('SHUTTING_DOWN', 'the offload pool is closed'));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (slot.pending.size === 1) slot.worker.ref();
      try {
        slot.worker.postMessage({ id, module: moduleUrl, fn, args }, [...transfer]);
      } catch (err) {
        this.settle(slot, id);
        reject(new TiffinError('INTERNAL', `could not hand work to the offload worker: ${(err as Error).message}`));
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }

  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (!best || s.pending.size < best.pending.size) best = s;
    if (best && (best.pending.size === 0 || this.slots.length >= this.threads)) return best;
    return this.start();
  }

  private start(): Slot {
    const worker = new Worker(ENTRY);
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (msg: Reply) => {
      const p = this.settle(slot, msg.id);
      if (!p) return;
      if (msg.ok) p.resolve(msg.value);
      else p.reject(rebuild(msg.error ?? { message: 'unknown error' }));
    });
    const lost = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      for (const p of slot.pending.values()) p.reject(new TiffinError('INTERNAL', `the offload worker stopped: ${why}`));
      slot.pending.clear();
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
    this.slots.push(slot);
    return slot;
  }

  private settle(slot: Slot, id: number): Pending | undefined {
    const p = slot.pending.get(id);
    slot.pending.delete(id);
    if (slot.pending.size === 0) slot.worker.unref();
    return p;
  }
}
