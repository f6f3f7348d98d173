// The tasks of a served service: one durable store (src/tasks) in the server's tasks folder, one queue per task
// kind with its concurrency, started once the service is ready (models loaded, startup hooks run) and drained
// with the server. Handlers get the same models and dependencies as API handlers.
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { TiffinError } from '../errors/index.ts';
import { handlesCancelledWith } from '../runtime/cancellation.ts';
import type { TaskInfo } from '../service/calls.ts';
import type { ModelTags, TaskContext } from '../service/context.ts';
import { JsonIO, parseJsonBody } from '../service/io-json.ts';
import { issuesFromZod, validationError } from '../service/validation.ts';
import type { RequestPayload } from '../service/io-types.ts';
import type { ApiMap, Service } from '../service/service.ts';
import type { TaskDefinition } from '../service/task-definition.ts';
import { defaultStoreRoot } from '../store/local-store.ts';
import { TaskQueue, TaskStore, startRetention, type TaskRecord } from '../tasks/index.ts';
import type { Dependencies } from './dependencies.ts';
import type { ServiceLifecycle } from './lifecycle.ts';

export interface TaskOptions {
  /** Folder of tasks.db and large results. Default `$TIFFIN_HOME/tasks/<service>`. */
  dir?: string;
  /** Finished tasks are deleted this long after they finish. Default 24 h. */
  retentionMs?: number;
  /** Results larger than this many bytes are files beside the database. Default 1 MiB. */
  inlineResultLimit?: number;
}

export const DEFAULT_TASK_RETENTION_MS = 24 * 3600_000;

export function taskInfo(r: TaskRecord): TaskInfo {
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    task_id: r.id,
    task: r.task,
    status: r.status,
    attempts: r.attempts,
    created_at: iso(r.createdAt),
    ...(r.startedAt !== undefined ? { started_at: iso(r.startedAt) } : {}),
    ...(r.finishedAt !== undefined ? { finished_at: iso(r.finishedAt) } : {}),
    ...(r.error ? { error: r.error } : {}),
  };
}

interface Kind {
  def: TaskDefinition;
  input: JsonIO<TaskDefinition['input']>;
  queue: TaskQueue;
}

export class ServiceTasks {
  private readonly store: TaskStore | undefined;
  private readonly kinds = new Map<string, Kind>();
  private started = false;
  private stopRetention: () => void = () => {};

  constructor(
    svc: Service<ModelTags, ApiMap>,
    options: TaskOptions,
    private readonly lifecycle: ServiceLifecycle,
    private readonly dependencies: Dependencies,
    private readonly log: Logger,
  ) {
    if (svc.tasks.length === 0) return;
    const dir = options.dir ?? resolve(defaultStoreRoot(), '..', 'tasks', svc.name);
    // Opened here, before the server listens: a store that cannot open fails the start with its reason.
    this.store = new TaskStore(dir, options.inlineResultLimit !== undefined ? { inlineLimit: options.inlineResultLimit } : {});
    for (const def of svc.tasks) {
      const kind: Kind = {
        def,
        input: new JsonIO(def.input),
        queue: new TaskQueue({
          task: def.name,
          store: this.store,
          concurrency: def.concurrency,
          onRestart: def.onRestart,
          maxAttempts: def.maxAttempts,
          run: (input, signal, record) => this.run(kind, input, signal, record),
          onError: (err, id) => this.log.warn({ err, taskId: id, task: def.name }, `task ${def.name} ${id} failed`),
        }),
      };
      this.kinds.set(def.name, kind);
    }
    this.stopRetention = startRetention(this.store, options.retentionMs ?? DEFAULT_TASK_RETENTION_MS, 60_000, (err) => this.log.error({ err }, 'deleting expired tasks failed'));
    this.log.info({ dir, tasks: svc.tasks.map((t) => t.name) }, `task store at ${dir}`);
  }

  /** The service is ready: settle what a previous process left running, then run what is pending. */
  start(): void {
    if (this.started || !this.store) return;
    this.started = true;
    for (const { queue } of this.kinds.values()) queue.recover();
  }

  /** Validates the input and commits a pending task; durable when this returns. */
  async submit(task: string, payload: RequestPayload): Promise<TaskInfo> {
    const kind = this.kind(task);
    await kind.input.parse(payload); // 400 with each invalid field before anything is stored
    const record = this.store!.submit(task, parseJsonBody(payload.body));
    if (this.started) kind.queue.pump();
    return taskInfo(record);
  }

  status(task: string, id: string): TaskInfo {
    return taskInfo(this.record(task, id));
  }

  /** The result of a done task; TASK_NOT_DONE (with its status and error) otherwise. */
  result(task: string, id: string): unknown {
    const record = this.record(task, id);
    if (record.status !== 'done') {
      const why = record.status === 'pending' || record.status === 'running' ? 'has no result yet' : `has no result: ${record.error?.message ?? record.status}`;
      throw new TiffinError('TASK_NOT_DONE', `task ${id} is ${record.status} and ${why}; poll its status`, { details: taskInfo(record) });
    }
    return this.store!.result(id);
  }

  cancel(task: string, id: string): TaskInfo {
    this.record(task, id);
    return taskInfo(this.kind(task).queue.cancel(id));
  }

  retry(task: string, id: string): TaskInfo {
    this.record(task, id);
    return taskInfo(this.kind(task).queue.retry(id));
  }

  /** Stops the queues: running tasks get `graceMs` to finish, then their signals fire (they run again after the
   * restart, by their onRestart policy). */
  async drain(graceMs: number): Promise<void> {
    await Promise.all([...this.kinds.values()].map((k) => k.queue.stop(graceMs)));
  }

  close(): void {
    this.stopRetention();
    this.store?.close();
  }

  private kind(task: string): Kind {
    const kind = this.kinds.get(task);
    if (!kind) throw new TiffinError('NOT_FOUND', `no task named ${task}`);
    return kind;
  }

  private record(task: string, id: string): TaskRecord {
    const record = this.store?.get(id);
    // A task id of another kind is not found under this one: ids do not leak across routes.
    if (!record || record.task !== task) throw new TiffinError('TASK_NOT_FOUND', `no ${task} task with id ${id}; it was never submitted here, or it finished more than the retention period ago`);
    return record;
  }

  private async run(kind: Kind, wire: unknown, signal: AbortSignal, record: TaskRecord): Promise<unknown> {
    // Checked at submit; checked again because the code may have changed since (a restart with a new version).
    const parsed = await kind.def.input.safeParseAsync(wire);
    if (!parsed.success) throw validationError(issuesFromZod(parsed.error), 'the stored input');
    const input = parsed.data;
    const ctx: TaskContext<ModelTags> = {
      taskId: record.id,
      task: kind.def.name,
      attempt: record.attempts,
      models: handlesCancelledWith(this.lifecycle.models, signal),
      services: this.dependencies.clients({ fetch: globalThis.fetch, requestId: record.id, signal }),
      signal,
      log: this.log.child({ taskId: record.id, task: kind.def.name }),
    };
    let result: unknown;
    try {
      result = await kind.def.handler(input, ctx);
    } catch (err) {
      if (err instanceof TiffinError) throw err;
      throw new TiffinError('HANDLER_FAILED', `the handler of task "${kind.def.name}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const output = await kind.def.output.safeParseAsync(result);
    if (!output.success) {
      throw new TiffinError('HANDLER_FAILED', `the handler of task "${kind.def.name}" returned a value that does not match its output schema`, { details: { issues: issuesFromZod(output.error) } });
    }
    return output.data;
  }
}
