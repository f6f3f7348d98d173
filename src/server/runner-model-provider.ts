// The server's default ModelProvider: each model of a service runs in its own RunnerPool (worker-thread
// replicas with adaptive batching), so inference never runs on the event loop that answers HTTP.
import { RunnerPool, type RunnerOptions } from '../runner/index.ts';
import type { ModelTags } from '../service/context.ts';
import { openAll, type ModelProvider, type OpenedModels } from '../service/model-provider.ts';

export class RunnerModelProvider implements ModelProvider {
  /** `runner` settings apply to every model (replicas, threads, batching); the store defaults to $TIFFIN_HOME. */
  constructor(private readonly runner: Omit<RunnerOptions, 'tag'> = {}) {}

  open(models: ModelTags): Promise<OpenedModels> {
    return openAll(models, async (tag) => {
      const pool = await RunnerPool.start({ ...this.runner, tag });
      return { handle: pool, close: () => pool.close() };
    });
  }
}
