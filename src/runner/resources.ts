// How many replicas a runner starts and with which thread settings, when the user does not say.
import { cudaAvailable } from '../runtime/onnx.ts';
import type { LoadOptions, SessionOptions } from '../runtime/types.ts';
import { usableCores } from './cores.ts';

const DEFAULT_BUSY_POLL_MS = 2;

export interface RunnerResources {
  replicas: number;
  /** Threads each replica's model may use inside one operator (ONNX). */
  intraOpThreads: number;
  interOpThreads: number;
  /** Whether replicas run on a GPU. */
  gpu: boolean;
  /** How long the event loop polls for a replica's result before it sleeps (busy-poll.ts); 0: it sleeps at once. */
  busyPollMs: number;
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
 *
 * Busy polling is on by default with two cores or more: polling then takes a core's sliver that would
 * otherwise sit idle. With one core, the polling event loop would take the CPU from the replica whose
 * result it waits for.
 */
export function runnerResources(
  framework: string,
  options: SessionOptions & { replicas?: number; busyPollMs?: number },
  cores = usableCores(),
): RunnerResources {
  const providers = options.executionProviders ?? (framework === 'onnx' && cudaAvailable() ? ['cuda', 'cpu'] : ['cpu']);
  const gpu = framework === 'onnx' && providers.some((p) => p !== 'cpu');
  const intraOpThreads = Math.max(1, Math.floor(options.intraOpThreads ?? 1));
  const interOpThreads = Math.max(1, Math.floor(options.interOpThreads ?? 1));
  const replicas = options.replicas ?? (gpu ? 1 : Math.max(1, Math.floor(cores / intraOpThreads)));
  const loadOptions: LoadOptions = { intraOpThreads, interOpThreads, executionProviders: providers };
  if (options.graphOptimization) loadOptions.graphOptimization = options.graphOptimization;
  const busyPollMs = Math.max(0, options.busyPollMs ?? (cores > 1 ? DEFAULT_BUSY_POLL_MS : 0));
  return { replicas: Math.max(1, Math.floor(replicas)), intraOpThreads, interOpThreads, gpu, busyPollMs, loadOptions };
}
