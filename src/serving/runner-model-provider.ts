// The server's default ModelProvider: each model of a service runs in its own RunnerPool (worker-thread
// replicas with adaptive batching), so inference stays off the event loop that answers HTTP
// (but for a cheap model's lone calls, bounded: src/runner/inline-runs.ts).
import { RunnerPool, type RunnerOptions } from '../runner/index.ts';
import type { ModelTags } from '../service/context.ts';
import { openAll, type ModelProvider, type OpenedModels } from '../service/model-provider.ts';
import type { Telemetry } from '../telemetry/index.ts';

export class RunnerModelProvider implements ModelProvider {
  /** `runner` settings apply to every model (replicas, threads, batching); the store defaults to $TIFFIN_HOME.
   * With `telemetry`, each runner reports inference metrics until it is closed. */
  constructor(
    private readonly runner: Omit<RunnerOptions, 'tag'> = {},
    private readonly telemetry?: Telemetry,
  ) {}

  open(models: ModelTags): Promise<OpenedModels> {
    return openAll(models, async (tag) => {
      const pool = await RunnerPool.start({ ...this.runner, tag });
      const stopObserving = this.telemetry?.observeRunner(pool);
      return {
        handle: pool,
        close: () => {
          stopObserving?.(true);
          return pool.close();
        },
      };
    });
  }
}
