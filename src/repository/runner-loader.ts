// The production loader: each version runs in a RunnerPool (worker-thread replicas with adaptive
// batching when its signature is batchable), so inference never blocks the server's event loop
// (a cheap model's lone calls may run inline, bounded: src/runner/inline-runs.ts).
import { RunnerPool, type RunnerOptions } from '../runner/index.ts';
import type { ModelStore } from '../store/index.ts';
import type { LoadedModel, ModelLoader, ServedModelConfig } from './types.ts';

/** Runner settings for every model; a model's own `batching` config goes over `batching` here. */
export type RunnerDefaults = Omit<RunnerOptions, 'tag' | 'storeRoot'>;

function runnerOptions(tag: string, store: ModelStore, config: ServedModelConfig, defaults: RunnerDefaults): RunnerOptions {
  const own = config.batching ?? {};
  const batching = { ...defaults.batching };
  if (own.maxBatchSize !== undefined) batching.maxBatchSize = own.maxBatchSize;
  if (own.maxLatencyMs !== undefined) batching.maxLatencyMs = own.maxLatencyMs;
  if (own.maxSplits !== undefined) batching.maxSplits = own.maxSplits;
  if (config.timeoutMs !== undefined) batching.defaultTimeoutMs = config.timeoutMs;
  // A batch of one is the runner's way of turning batching off.
  if (own.enabled === false) batching.maxBatchSize = 1;
  return { ...defaults, tag, storeRoot: store.root, batching };
}

export function runnerPoolLoader(store: ModelStore, defaults: RunnerDefaults = {}): ModelLoader {
  return async (tag, { config }): Promise<LoadedModel> => RunnerPool.start(runnerOptions(tag, store, config, defaults));
}
