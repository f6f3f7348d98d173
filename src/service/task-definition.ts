// A task: a long job declared with `.task(name, config)`. Submitting one answers at once with an id; the server
// runs it in the background through the same models and runners as APIs, keeps its state durable (src/tasks) and
// answers its status and result later. Inputs and outputs are JSON (zod schemas): a task outlives its request.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import type { DependencyMap, ModelTags, TaskContext } from './context.ts';

export type TaskHandler<M extends ModelTags, I extends z.ZodType, O extends z.ZodType, D extends DependencyMap> = (
  input: z.output<I>,
  ctx: TaskContext<M, D>,
) => z.input<O> | Promise<z.input<O>>;

export interface TaskConfig<M extends ModelTags, I extends z.ZodType, O extends z.ZodType, D extends DependencyMap> {
  input: I;
  output: O;
  summary?: string;
  description?: string;
  tags?: string[];
  /** The routes' prefix; default `/<name>` (then `/<name>/submit`, `/<name>/status`, ...). */
  route?: string;
  /** Tasks of this kind running at once in this server. Default 1. */
  concurrency?: number;
  /** A task that was running when the server stopped: 'retry' queues it again (until maxAttempts), 'fail' marks
   * it failed. Either way its error says why. Default 'retry'. */
  onRestart?: 'retry' | 'fail';
  /** Starts at most, counting restarts. Default 3. */
  maxAttempts?: number;
  handler: TaskHandler<M, I, O, D>;
}

/** A task as the server runs it. */
export interface TaskDefinition {
  readonly name: string;
  readonly route: string;
  readonly input: z.ZodType;
  readonly output: z.ZodType;
  readonly summary: string | undefined;
  readonly description: string | undefined;
  readonly tags: readonly string[];
  readonly concurrency: number;
  readonly onRestart: 'retry' | 'fail';
  readonly maxAttempts: number;
  readonly handler: (input: unknown, ctx: TaskContext<ModelTags>) => unknown;
}

/** The sub-paths of a task's routes (`<route>/submit`, ...): docs/tasks.md says what each answers. */
export const TASK_ACTIONS = ['submit', 'status', 'get', 'cancel', 'retry'] as const;

export function defineTask<M extends ModelTags, I extends z.ZodType, O extends z.ZodType, D extends DependencyMap>(
  name: string,
  route: string,
  config: TaskConfig<M, I, O, D>,
): TaskDefinition {
  const invalid = (message: string) => new TiffinError('SERVICE_INVALID', `task "${name}": ${message}`);
  if (!(config.input instanceof z.ZodType) || !(config.output instanceof z.ZodType)) throw invalid('input and output must be zod schemas (task inputs and results are JSON)');
  if (typeof config.handler !== 'function') throw invalid('needs a handler function');
  for (const key of ['concurrency', 'maxAttempts'] as const) {
    const v = config[key];
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw invalid(`${key} must be a whole number above 0, got ${String(v)}`);
  }
  if (config.onRestart !== undefined && config.onRestart !== 'retry' && config.onRestart !== 'fail') throw invalid(`onRestart must be 'retry' or 'fail', got ${String(config.onRestart)}`);
  const handler = config.handler;
  return {
    name,
    route,
    input: config.input,
    output: config.output,
    summary: config.summary,
    description: config.description,
    tags: config.tags ?? [],
    concurrency: config.concurrency ?? 1,
    onRestart: config.onRestart ?? 'retry',
    maxAttempts: config.maxAttempts ?? 3,
    // The input was parsed by `input` and the context built for M: the types line up by construction.
    handler: (value, ctx) => handler(value as z.output<I>, ctx as unknown as TaskContext<M, D>),
  };
}
