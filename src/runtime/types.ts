// The contract every framework adapter implements: check and describe model files before they are
// saved, and load a saved model into a `Model` that runs. Adapters never touch the store's layout.
import type { CancelSignal } from './cancellation.ts';
import type { Signature, TensorSpec, Tensors } from './tensor.ts';
import type { ModelOutputs } from './model-outputs.ts';

/** The stored version a runtime loads, as the store describes it (its model.yaml satisfies this). */
export interface ModelDescriptor {
  name: string;
  version: string;
  framework: string;
  frameworkVersion: string;
  /** File the runtime loads, relative to the version folder. */
  entry: string;
  /** ISO 8601 creation time. */
  createdAt: string;
  labels: Record<string, string>;
  metadata: Record<string, unknown>;
  signatures: Record<string, Signature>;
}

export interface SessionOptions {
  /** Threads used inside one operator (onnxruntime intraOpNumThreads). */
  intraOpThreads?: number;
  /** Threads used across independent operators (onnxruntime interOpNumThreads). */
  interOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Execution providers in order of preference, for example ['cuda', 'cpu']. Default: CUDA when present, else CPU. */
  executionProviders?: string[];
}

export interface LoadOptions extends SessionOptions {}

/** Per-call options. Runners and batchers honour them; an in-process model ignores what does not apply. */
export interface CallOptions {
  /** Limits which outputs are computed and returned. */
  outputs?: string[];
  /** Aborts a queued call (for example when the client went away): an AbortSignal, or a server's cheaper Cancellation. */
  signal?: CancelSignal;
  /** Give up (503/504) when the call cannot finish within this many milliseconds. */
  timeoutMs?: number;
  /** Higher runs first when calls queue; default 0. */
  priority?: number;
  /** The calling request's id: prediction logs of models served without code record the call under it. */
  requestId?: string;
  /** The caller's OpenTelemetry Context (`unknown`, so lower layers need not import OpenTelemetry): a runner's queue and batch spans join it. */
  traceContext?: unknown;
  /** The service API request a handler's model call belongs to: what a traffic route on the model picks a variant
   * by (a header, a field of the input) and tells which variant served (set by the server; docs/traffic.md). */
  routing?: CallRouting;
}

/** What traffic routing needs of the API request behind a ctx.models call. */
export interface CallRouting {
  readonly requestId: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The API's parsed input, once parsed (undefined before). */
  readonly input: unknown;
  /** Called with the variant a routed call went to (the server names it in the answer and the access log). */
  routed(model: string, version: string): void;
}

/** What services and protocol adapters hold: a model they can call, wherever it runs (in-process or in a runner). */
export interface ModelHandle {
  readonly tag: string;
  readonly framework: string;
  /** Method name -> declared inputs, outputs and batching. ONNX models have one method, `run`. */
  readonly signatures: Record<string, Signature>;
  /** Inputs and outputs of the `run` method (what a protocol adapter advertises). */
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  /** Runs the model on named tensors; `outputs` limits what is computed and returned. */
  run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs>;
  /** Calls any method by name (custom models may take and return any structured-cloneable value). */
  call(method: string, input: unknown, options?: CallOptions): Promise<unknown>;
}

/** A model loaded in this thread. `run` blocks the thread for ONNX models: servers use runners instead. */
export interface Model extends ModelHandle {
  dispose(): Promise<void>;
}

/** What an adapter learns when it checks model files before they are saved. */
export interface PreparedModel {
  /** The framework's own version, recorded in the manifest. */
  frameworkVersion: string;
  /** The file (relative to the model folder) that the runtime loads. */
  entry: string;
  signatures: Record<string, Signature>;
  /** Settings the runtime needs again at load time (a pipeline's task and options), stored in the manifest's
   * metadata; they take precedence over the user's metadata of the same keys, since they are the checked values. */
  metadata?: Record<string, unknown>;
}

export interface PrepareInput {
  /** Folder holding every file of the model, as it will be stored. */
  dir: string;
  /** Entry file relative to dir, when the user named one. */
  entry?: string;
  /** Signatures the user declared; they override or complete what the adapter infers. */
  signatures?: Record<string, Partial<Signature>>;
  /** Marks every method batchable along dimension 0 (the CLI's --batchable). */
  batchable?: boolean;
  /** The user's metadata (the CLI's --metadata), where a runtime reads its own settings (e.g. `task`). */
  metadata?: Record<string, unknown>;
}

export interface Runtime {
  readonly framework: string;
  /** Validates the files (failing now, not at serve time) and describes them. */
  prepare(input: PrepareInput): Promise<PreparedModel>;
  /** Loads a stored version. `dir` is the version's folder, `manifest` its parsed model.yaml. */
  load(dir: string, manifest: ModelDescriptor, options?: LoadOptions): Promise<Model>;
}
