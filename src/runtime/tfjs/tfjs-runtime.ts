// The `tfjs` framework: TensorFlow.js layers and graph models from a local folder (model.json and weight shards),
// run on the pure-JavaScript CPU backend inside the replica thread. One method, `run`, over named tensors, like ONNX:
// a layers model's inputs and outputs are named by its input and output layers, a graph model's by its signature.
// Batchable along dimension 0 when the user says so (--batchable) and every input and output there is dynamic.
import { TiffinError, messageOf } from '../../errors/index.ts';
import { checkFeeds, checkOutputNames } from '../check.ts';
import { asModelOutputs, type ModelOutputs } from '../model-outputs.ts';
import { isDType, type DType, type Signature, type Tensor, type TensorSpec, type Tensors } from '../tensor.ts';
import type { CallOptions, Model, ModelDescriptor, PrepareInput, PreparedModel, Runtime } from '../types.ts';
import { loadTfjs, type GraphModel, type LayersModel, type TfLibrary, type TfTensor, type TfTensorInfo } from './library.ts';
import { readArtifacts, type TfjsFormat } from './model-files.ts';

const METHOD = 'run';
/** TensorFlow.js dtypes Tiffin carries (tfjs has no 64-bit or 16-bit tensors). */
const DTYPES: Record<string, DType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

interface Loaded {
  tf: TfLibrary;
  format: TfjsFormat;
  layers?: LayersModel;
  graph?: GraphModel;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

function specOf(info: TfTensorInfo, kind: string, name = info.name): TensorSpec {
  const dtype = DTYPES[info.dtype];
  if (!dtype) throw new TiffinError('MODEL_INVALID', `${kind} ${name} has dtype ${info.dtype}, which Tiffin cannot carry`);
  return { name, dtype, shape: (info.shape ?? []).map((d) => (d === null || d < 0 ? -1 : d)) };
}

interface KerasConfig {
  class_name?: string;
  config?: { input_layers?: [string, number, number][]; output_layers?: [string, number, number][]; layers?: { class_name?: string; config?: { name?: string } }[] };
}

/**
 * A layers model's input and output names as its file gives them. The loaded model's own names are not stable:
 * tfjs makes layer names unique per thread, so a second model with the same names in one process gets `_1` suffixes.
 * A Sequential model's input is implicit and Keras names it `<first layer>_input`.
 */
function layerNames(topology: unknown): { inputs: string[]; outputs: string[] } | undefined {
  const root = topology as { model_config?: KerasConfig } & KerasConfig;
  const model = root.model_config ?? root;
  const config = model.config;
  if (!config) return undefined;
  if (config.input_layers && config.output_layers) return { inputs: config.input_layers.map((l) => l[0]), outputs: config.output_layers.map((l) => l[0]) };
  const layers = config.layers ?? [];
  const first = layers[0];
  const last = layers[layers.length - 1];
  if (model.class_name !== 'Sequential' || !first?.config?.name || !last?.config?.name) return undefined;
  return { inputs: [first.class_name === 'InputLayer' ? first.config.name : `${first.config.name}_input`], outputs: [last.config.name] };
}

/** Node name -> shape from a graph model's serving signature (tensorflowjs_converter writes one): an output's
 * shape is known only there, since the nodes carry shapes for placeholders alone. */
function signatureShapes(signature: unknown): Map<string, (number | null)[]> {
  const shapes = new Map<string, (number | null)[]>();
  const sig = signature as { inputs?: Record<string, SignatureEntry>; outputs?: Record<string, SignatureEntry> } | undefined;
  for (const entry of [...Object.values(sig?.inputs ?? {}), ...Object.values(sig?.outputs ?? {})]) {
    const dims = entry.tensorShape?.dim;
    if (entry.name && dims) shapes.set(entry.name.replace(/:\d+$/, ''), dims.map((d) => Number(d.size ?? -1)));
  }
  return shapes;
}

interface SignatureEntry {
  name?: string;
  tensorShape?: { dim?: { size?: string | number }[] };
}

async function open(dir: string, entry?: string): Promise<Loaded> {
  const tf = await loadTfjs();
  const { artifacts, format } = await readArtifacts(dir, entry);
  const handler = { load: async () => artifacts };
  try {
    if (format === 'layers-model') {
      const layers = await tf.loadLayersModel(handler);
      const names = layerNames(artifacts.modelTopology);
      return {
        tf, format, layers,
        inputs: layers.inputs.map((t, i) => specOf(t, 'input', names?.inputs[i] ?? layers.inputNames[i])),
        outputs: layers.outputs.map((t, i) => specOf(t, 'output', names?.outputs[i] ?? layers.outputNames[i])),
      };
    }
    const graph = await tf.loadGraphModel(handler);
    const shapes = signatureShapes(artifacts.signature);
    const withShape = (t: TfTensorInfo) => (t.shape && t.shape.length > 0 ? t : { ...t, shape: shapes.get(t.name) ?? t.shape });
    return { tf, format, graph, inputs: graph.inputs.map((t) => specOf(withShape(t), 'input')), outputs: graph.outputs.map((t) => specOf(withShape(t), 'output')) };
  } catch (err) {
    if (err instanceof TiffinError) throw err;
    throw new TiffinError('MODEL_INVALID', `TensorFlow.js could not load the ${format} in ${dir}: ${messageOf(err)}`, { cause: err });
  }
}

function signatureOf(loaded: Loaded, input: PrepareInput): Signature {
  const declared = input.signatures?.[METHOD] ?? {};
  const batchable = declared.batchable ?? input.batchable ?? false;
  const batchDim = declared.batchDim ?? 0;
  if (batchable) {
    if (batchDim !== 0) throw new TiffinError('MODEL_INVALID', 'tfjs models batch along dimension 0 only');
    for (const spec of [...loaded.inputs, ...loaded.outputs]) {
      if (spec.shape[0] !== -1) throw new TiffinError('MODEL_INVALID', `the model cannot be batchable: ${spec.name} has shape [${spec.shape.join(', ')}], and dimension 0 is not dynamic`);
    }
  }
  return { batchable, batchDim, inputs: loaded.inputs, outputs: loaded.outputs };
}

function dispose(tensors: TfTensor | TfTensor[] | undefined): void {
  if (!tensors) return;
  for (const t of Array.isArray(tensors) ? tensors : [tensors]) t.dispose();
}

export class TfjsModel implements Model {
  readonly framework = 'tfjs';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];

  constructor(
    readonly tag: string,
    readonly signatures: Record<string, Signature>,
    private readonly loaded: Loaded,
  ) {
    this.inputs = loaded.inputs;
    this.outputs = loaded.outputs;
  }

  async run(feeds: Tensors, options: CallOptions = {}): Promise<ModelOutputs> {
    checkFeeds(this.inputs, feeds, this.tag);
    const wanted = options.outputs ?? this.outputs.map((o) => o.name);
    checkOutputNames(this.outputs, wanted, this.tag);
    const { tf, layers, graph } = this.loaded;
    const inputs = this.inputs.map((spec) => {
      const t = feeds[spec.name]!;
      return tf.tensor(t.data as ArrayLike<number>, t.shape, t.dtype);
    });
    let results: TfTensor | TfTensor[] | undefined;
    try {
      if (layers) {
        results = layers.predict(inputs.length === 1 ? inputs[0]! : inputs);
      } else {
        const dict: Record<string, TfTensor> = {};
        this.inputs.forEach((spec, i) => (dict[spec.name] = inputs[i]!));
        results = await graph!.executeAsync(dict, this.outputs.map((o) => o.name));
      }
      const list = Array.isArray(results) ? results : [results];
      const out: Tensors = {};
      for (const name of wanted) {
        const index = this.outputs.findIndex((o) => o.name === name);
        const t = list[index]!;
        const dtype = DTYPES[t.dtype];
        if (!dtype || !isDType(dtype)) throw new TiffinError('INFERENCE_FAILED', `output ${name} has dtype ${t.dtype}`);
        const data = await t.data();
        out[name] = { dtype, shape: [...t.shape], data: (dtype === 'bool' ? Uint8Array.from(data as ArrayLike<number>) : data) as Tensor['data'] };
      }
      return asModelOutputs(out);
    } catch (err) {
      if (err instanceof TiffinError) throw err;
      throw new TiffinError('INFERENCE_FAILED', `TensorFlow.js failed to run ${this.tag}: ${messageOf(err)}`, { cause: err });
    } finally {
      dispose(inputs);
      dispose(results);
    }
  }

  async call(method: string, input: unknown): Promise<unknown> {
    if (method !== METHOD) throw new TiffinError('NOT_FOUND', `tfjs models have one method, "${METHOD}"; got "${method}"`);
    return this.run(input as Tensors);
  }

  async dispose(): Promise<void> {
    (this.loaded.layers ?? this.loaded.graph)?.dispose();
  }
}

export const tfjsRuntime: Runtime = {
  framework: 'tfjs',

  async prepare(input: PrepareInput): Promise<PreparedModel> {
    const entry = input.entry ?? 'model.json';
    const loaded = await open(input.dir, entry);
    try {
      return { frameworkVersion: loaded.tf.version, entry, signatures: { [METHOD]: signatureOf(loaded, input) }, metadata: { tfjsFormat: loaded.format } };
    } finally {
      (loaded.layers ?? loaded.graph)?.dispose();
    }
  },

  async load(dir: string, manifest: ModelDescriptor): Promise<Model> {
    return new TfjsModel(`${manifest.name}:${manifest.version}`, manifest.signatures, await open(dir, manifest.entry));
  },
};
