// Inline runs: a cheap model's lone call runs on the calling thread instead of a replica, while requests do not
// overlap. Handing a call to a sleeping replica thread and back costs two thread wake-ups (about 60-100 µs
// on a small VM, bench/RESULTS.md), as much as a small model's whole run; at low traffic that hop doubled Tiffin's
// latency against a web server calling the model on its event loop. A call runs here only when
//   - the dispatcher found it alone: nothing queued behind it and no batch out (under load, batches form as before);
//   - the model is predicted (by the dispatcher's learned cost) to take at most maxRunMs, so one inline run can
//     delay other work on the event loop by that much at most;
//   - no request arrived while the dispatcher's previous batch ran (inline or on a replica): requests that overlap
//     in time are load, and running one here would hold the others up, so they go to the replicas and batch
//     there as before, until a batch comes back to an empty queue.
// The copy of the model used here is loaded on first need, so models too slow to qualify cost no memory, and only
// for frameworks whose runs are self-contained (ONNX, the native tree runtimes); a custom model's code and state
// stay in its replicas.
import { performance } from 'node:perf_hooks';
import { messageOf, TiffinError } from '../errors/index.ts';
import { ONNX_METHOD } from '../runtime/onnx.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { Model } from '../runtime/types.ts';
import type { ExecuteResult } from '../batching/types.ts';

export interface InlineOptions {
  /** Longest predicted run, in ms, that may run on the calling thread. Default 0.5; 0 turns inline runs off. */
  maxRunMs?: number;
}

/** Frameworks whose model can run on the calling thread: no user code, no state kept between calls. */
export const INLINE_FRAMEWORKS: ReadonlySet<string> = new Set(['onnx', 'xgboost', 'lightgbm']);
export const DEFAULT_INLINE_MAX_RUN_MS = 0.5;

export class InlineRuns {
  private model: Model | undefined;
  private loading = false;
  private readonly maxRunMs: number;

  constructor(private readonly load: () => Promise<Model>, options: InlineOptions, private readonly label: string) {
    this.maxRunMs = options.maxRunMs ?? DEFAULT_INLINE_MAX_RUN_MS;
  }

  /**
   * Runs the call here and resolves with its result, or answers undefined when it should go to a replica.
   * `predictedMs` is the dispatcher's prediction for this call (undefined while it has not learned one).
   */
  tryRun(method: string, input: unknown, outputs: string[] | undefined, predictedMs: number | undefined): Promise<ExecuteResult<unknown>> | undefined {
    if (predictedMs === undefined || predictedMs > this.maxRunMs) return undefined;
    if (!this.model) {
      this.startLoading();
      return undefined;
    }
    return this.run(this.model, method, input, outputs);
  }

  private async run(model: Model, method: string, input: unknown, outputs: string[] | undefined): Promise<ExecuteResult<unknown>> {
    const started = performance.now();
    let output: unknown;
    try {
      output = await (method === ONNX_METHOD ? model.run(input as Tensors, outputs ? { outputs } : {}) : model.call(method, input));
    } catch (err) {
      throw err instanceof TiffinError ? err : new TiffinError('INFERENCE_FAILED', `${this.label}.${method} failed: ${messageOf(err)}`, { cause: err });
    }
    return { output, runMs: performance.now() - started };
  }

  private startLoading(): void {
    if (this.loading) return;
    this.loading = true;
    this.load().then(
      (model) => {
        this.model = model;
      },
      // Not fatal: the replicas serve every call, as with inline runs off.
      () => {},
    );
  }

  /** Releases the model copy; later calls all go to replicas. */
  async dispose(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    this.loading = true;
    await model?.dispose();
  }
}
