// How many replicas a runner starts and with which thread settings, when the user does not say.
import { availableParallelism } from 'node:os';
import { cudaAvailable } from '../runtime/onnx.ts';
import type { LoadOptions, SessionOptions } from '../runtime/types.ts';

export interface RunnerResources {
  replicas: number;
  /** Threads each replica's model may use inside one operator (ONNX). */
  intraOpThreads: number;
  interOpThreads: number;
  /** Whether replicas run on a GPU. */
  gpu: boolean;
  loadOptions: LoadOptions;
}

/**
 * Replicas × intra-op threads ≈ cores. One thread per replica is the default because serving is many
 * small independent runs: they scale almost linearly across replicas, while one run spread over
 * threads pays a synchronisation cost on every operator and leaves cores idle between operators; the
 * batching that replicas lose in width they win back in batch size. A model that needs several
 * threads for one request's latency (a big network at low traffic) sets intraOpThreads, and gets
 * cores / intraOpThreads replicas. The main thread (HTTP, batching) needs a core's sliver only, since
 * it mostly waits. On a GPU the default is one replica: batches queue on the device anyway, and each
 * extra replica costs a CUDA context and a copy of the weights in device memory.
 */
export function runnerResources(framework: string, options: SessionOptions & { replicas?: number }, cores = availableParallelism()): RunnerResources {
  const providers = options.executionProviders ?? (framework === 'onnx' && cudaAvailable() ? ['cuda', 'cpu'] : ['cpu']);
  const gpu = framework === 'onnx' && providers.some((p) => p !== 'cpu');
  const intraOpThreads = Math.max(1, Math.floor(options.intraOpThreads ?? 1));
  const interOpThreads = Math.max(1, Math.floor(options.interOpThreads ?? 1));
  const replicas = options.replicas ?? (gpu ? 1 : Math.max(1, Math.floor(cores / intraOpThreads)));
  const loadOptions: LoadOptions = { intraOpThreads, interOpThreads, executionProviders: providers };
  if (options.graphOptimization) loadOptions.graphOptimization = options.graphOptimization;
  return { replicas: Math.max(1, Math.floor(replicas)), intraOpThreads, interOpThreads, gpu, loadOptions };
}
