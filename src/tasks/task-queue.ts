// Runs one task kind's pending rows, oldest first, at most `concurrency` at a time, in this process. Each run
// is committed as `running` before its handler starts and as done/failed after, so a crash in between is
// visible at the next start (recover()) and handled by the task's onRestart policy.
import { TiffinError, messageOf } from '../errors/index.ts';
import type { TaskRecord, TaskStore } from './task-store.ts';

export type RestartPolicy = 'retry' | 'fail';

export interface TaskQueueOptions {
  task: string;
  store: TaskStore;
  /** Runs one task; `signal` fires on cancel or shutdown. Its resolved value is the result (JSON). */
  run: (input: unknown, signal: AbortSignal, record: TaskRecord) => Promise<unknown>;
  /** Default 1. */
  concurrency?: number;
  /** What happens to a task that was running when the server stopped. Default 'retry'. */
  onRestart?: RestartPolicy;
  /** Attempts at most under onRestart 'retry'; past it the task fails. Default 3. */
  maxAttempts?: number;
  onError?: (err: unknown, id: string) => void;
}

export class TaskQueue {
  private readonly running = new Map<string, AbortController>();
  private stopped = false;
  private readonly concurrency: number;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly options: TaskQueueOptions) {
    this.concurrency = options.concurrency ?? 1;
  }

  /** Settles tasks a previous process left running, then starts the pending ones. */
  recover(): void {
    const policy = this.options.onRestart ?? 'retry';
    const max = this.options.maxAttempts ?? 3;
    for (const t of this.options.store.interrupted()) {
      if (t.task !== this.options.task) continue;
      if (policy === 'retry' && t.attempts < max) {
        this.options.store.transition(t.id, 'pending', { error: { code: 'TASK_INTERRUPTED', message: `attempt ${t.attempts} was interrupted by a server restart; retrying` } });
      } else {
        const why = policy === 'retry' ? `after ${t.attempts} attempts (maxAttempts ${max})` : "(onRestart: 'fail')";
        this.options.store.transition(t.id, 'failed', { error: { code: 'TASK_INTERRUPTED', message: `the server restarted while the task ran ${why}` } });
      }
    }
    this.pump();
  }

  /** Looks for work; call after a submit or a retry. */
  pump(): void {
    if (this.stopped) return;
    const free = this.concurrency - this.running.size;
    if (free <= 0) return;
    for (const t of this.options.store.pending(this.options.task, free)) {
      if (this.running.has(t.id)) continue;
      const started = this.options.store.transition(t.id, 'running');
      if (started) void this.execute(started);
    }
  }

  /** Cancels a pending task, or fires a running one's signal (it ends cancelled). */
  cancel(id: string): TaskRecord {
    const current = this.options.store.get(id);
    if (!current) throw new TiffinError('TASK_NOT_FOUND', `no task with id ${id}`);
    const controller = this.running.get(id);
    if (controller) {
      controller.abort(new TiffinError('ABORTED', 'the task was cancelled'));
      return this.options.store.transition(id, 'cancelled', { error: { code: 'ABORTED', message: 'cancelled while running' } }) ?? current;
    }
    const moved = this.options.store.transition(id, 'cancelled', { error: { code: 'ABORTED', message: 'cancelled before it ran' } });
    if (!moved) throw new TiffinError('TASK_STATE_CONFLICT', `task ${id} is ${current.status}; only pending or running tasks can be cancelled`, { details: { status: current.status } });
    return moved;
  }

  /** Queues a failed or cancelled task again. */
  retry(id: string): TaskRecord {
    const current = this.options.store.get(id);
    if (!current) throw new TiffinError('TASK_NOT_FOUND', `no task with id ${id}`);
    const moved = current.status === 'failed' || current.status === 'cancelled' ? this.options.store.transition(id, 'pending') : undefined;
    if (!moved) throw new TiffinError('TASK_STATE_CONFLICT', `task ${id} is ${current.status}; only failed or cancelled tasks can be retried`, { details: { status: current.status } });
    this.pump();
    return moved;
  }

  /** Stops taking work, lets what runs finish for up to `graceMs`, then aborts the rest; those rows stay
   * `running`, so the next start applies onRestart to them. */
  async stop(graceMs = 0): Promise<void> {
    this.stopped = true;
    if (this.running.size > 0 && graceMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.idle, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    for (const c of this.running.values()) c.abort(new TiffinError('SHUTTING_DOWN', 'the server shut down before the task finished; it runs again after the restart (onRestart)'));
    await this.idle;
  }

  /** Tasks running now. */
  get active(): number {
    return this.running.size;
  }

  private async execute(record: TaskRecord): Promise<void> {
    const controller = new AbortController();
    this.running.set(record.id, controller);
    let finish!: () => void;
    const previous = this.idle;
    this.idle = new Promise<void>((r) => (finish = r)).then(() => previous);
    try {
      const result = await this.options.run(JSON.parse(record.input), controller.signal, record);
      if (!controller.signal.aborted) this.options.store.transition(record.id, 'done', { result });
    } catch (err) {
      // A cancel already committed `cancelled`; a shutdown leaves the row running for recover().
      if (!controller.signal.aborted) {
        const error = err instanceof TiffinError ? { code: err.code, message: err.message } : { code: 'HANDLER_FAILED', message: messageOf(err) };
        this.options.store.transition(record.id, 'failed', { error });
        this.options.onError?.(err, record.id);
      }
    } finally {
      this.running.delete(record.id);
      finish();
      this.pump();
    }
  }
}
