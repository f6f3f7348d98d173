// The `onnx` runtime: onnxruntime-node sessions. Note that `session.run` blocks its calling thread
// for the whole inference, which is why servers call models through runner workers, never directly.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TiffinError, messageOf } from '../errors/index.ts';
import { isDType, type Signature, type Tensor, type TensorSpec, type Tensors } from './tensor.ts';
import { checkFeeds, checkOutputNames } from './check.ts';
import type { CallOptions, LoadOptions, Model, ModelDescriptor, PrepareInput, PreparedModel, Runtime, SessionOptions } from './types.ts';
import { asModelOutputs, type ModelOutputs } from './model-outputs.ts';

const require = createRequire(import.meta.url);

export const ONNX_METHOD = 'run';

/** The onnxruntime-node version in use, recorded in manifests. */
export function onnxRuntimeVersion(): string {
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** CUDA is usable only when its provider library was installed next to the binding. */
export function cudaAvailable(): boolean {
  try {
    const bindingDir = join(dirname(require.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(bindingDir, 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}

export function sessionOptions(options: SessionOptions = {}): ort.InferenceSession.SessionOptions {
  const providers = options.executionProviders ?? (cudaAvailable() ? ['cuda', 'cpu'] : ['cpu']);
  const out: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: options.graphOptimization ?? 'all',
  };
  if (options.intraOpThreads !== undefined) out.intraOpNumThreads = options.intraOpThreads;
  if (options.interOpThreads !== undefined) out.interOpNumThreads = options.interOpThreads;
  return out;
}

/** Reads a session's declared inputs or outputs; symbolic and unknown dimensions become -1. */
function specsOf(metadata: readonly ort.InferenceSession.ValueMetadata[], what: string): TensorSpec[] {
  return metadata.map((m) => {
    if (!m.isTensor) throw new TiffinError('MODEL_INVALID', `${what} "${m.name}" is not a tensor; Tiffin serves tensor inputs and outputs only`);
    if (!isDType(m.type)) throw new TiffinError('MODEL_INVALID', `${what} "${m.name}" has type ${m.type}, which Tiffin does not support`);
    return { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  });
}

async function findEntry(dir: string, entry?: string): Promise<string> {
  if (entry) return entry;
  const onnxFiles = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.onnx'));
  if (onnxFiles.length === 1) return onnxFiles[0]!.split('\\').join('/');
  throw new TiffinError(
    'MODEL_INVALID',
    onnxFiles.length === 0
      ? `no .onnx file found in ${dir}`
      : `found ${onnxFiles.length} .onnx files in ${dir} (${onnxFiles.join(', ')}); name the one to load with --entry`,
  );
}

async function openSession(path: string, options?: SessionOptions): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(path, sessionOptions(options));
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `onnxruntime could not load ${path}: ${messageOf(err)}`, { cause: err });
  }
}

/** Signatures take the declared batching from the user; shapes always come from the model itself. */
function onnxSignature(session: ort.InferenceSession, input: PrepareInput): Signature {
  const declared = input.signatures?.[ONNX_METHOD] ?? {};
  const inputs = specsOf(session.inputMetadata, 'input');
  const outputs = specsOf(session.outputMetadata, 'output');
  const batchDim = declared.batchDim ?? 0;
  const batchable = declared.batchable ?? input.batchable ?? false;
  if (batchable) {
    for (const spec of [...inputs, ...outputs]) {
      if (spec.shape.length <= batchDim || spec.shape[batchDim] !== -1) {
        throw new TiffinError(
          'MODEL_INVALID',
          `the model cannot be batchable: ${spec.name} has shape [${spec.shape.join(', ')}], and dimension ${batchDim} is not dynamic`,
        );
      }
    }
  }
  return { batchable, batchDim, inputs, outputs };
}

export function toOrtTensor(t: Tensor): ort.Tensor {
  return new ort.Tensor(t.dtype as ort.Tensor.Type, t.data as ort.Tensor.DataType, t.shape);
}

export function fromOrtTensor(value: ort.OnnxValue, name: string): Tensor {
  const t = value as ort.Tensor;
  if (!isDType(t.type)) throw new TiffinError('INFERENCE_FAILED', `output ${name} has unsupported type ${t.type}`);
  return { dtype: t.type, shape: [...t.dims], data: t.data as Tensor['data'] };
}

export class OnnxModel implements Model {
  readonly framework = 'onnx';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];

  constructor(
    readonly tag: string,
    readonly signatures: Record<string, Signature>,
    private readonly session: ort.InferenceSession,
  ) {
    this.inputs = specsOf(session.inputMetadata, 'input');
    this.outputs = specsOf(session.outputMetadata, 'output');
  }

  async run(feeds: Tensors, options: CallOptions = {}): Promise<ModelOutputs> {
    checkFeeds(this.inputs, feeds, this.tag);
    const wanted = options.outputs ?? this.outputs.map((o) => o.name);
    checkOutputNames(this.outputs, wanted, this.tag);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(t);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(ortFeeds, wanted);
    } catch (err) {
      throw new TiffinError('INFERENCE_FAILED', `onnxruntime failed to run ${this.tag}: ${messageOf(err)}`, { cause: err });
    }
    const out: Tensors = {};
    for (const name of wanted) out[name] = fromOrtTensor(results[name]!, name);
    return asModelOutputs(out);
  }

  async call(method: string, input: unknown): Promise<unknown> {
    if (method !== ONNX_METHOD) throw new TiffinError('NOT_FOUND', `ONNX models have one method, "${ONNX_METHOD}"; got "${method}"`);
    return this.run(input as Tensors);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export const onnxRuntime: Runtime = {
  framework: 'onnx',

  async prepare(input: PrepareInput): Promise<PreparedModel> {
    const entry = await findEntry(input.dir, input.entry);
    const path = join(input.dir, entry);
    if (!existsSync(path)) throw new TiffinError('MODEL_INVALID', `entry file ${entry} does not exist in ${input.dir}`);
    const session = await openSession(path, { executionProviders: ['cpu'], graphOptimization: 'disabled' });
    try {
      return { frameworkVersion: onnxRuntimeVersion(), entry, signatures: { [ONNX_METHOD]: onnxSignature(session, input) } };
    } finally {
      await session.release();
    }
  },

  async load(dir: string, manifest: ModelDescriptor, options?: LoadOptions): Promise<Model> {
    const session = await openSession(join(dir, manifest.entry), options);
    return new OnnxModel(`${manifest.name}:${manifest.version}`, manifest.signatures, session);
  },
};

