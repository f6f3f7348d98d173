// Owns: the `transformers` runtime: a Hugging Face model folder run by a Transformers.js pipeline
// (feature-extraction, text-classification), loaded from the store's files only. `run` takes every text of a
// batch at once, so the pipeline's tokenizer pads them to one length with an attention mask and the ONNX
// model runs once for the whole batch. At save time the folder is checked file by file, then opened and run.
import { TiffinError, messageOf } from '../../errors/index.ts';
import { checkFeeds, checkOutputNames } from '../check.ts';
import { asModelOutputs, type ModelOutputs } from '../model-outputs.ts';
import type { Signature, TensorSpec, Tensors } from '../tensor.ts';
import type { CallOptions, LoadOptions, Model, ModelDescriptor, PrepareInput, PreparedModel, Runtime } from '../types.ts';
import { loadTransformers, openPipeline, transformersVersion, type TextPipeline } from './library.ts';
import { parseEntry, readConfig, readModelFolder, type OnnxEntry } from './model-folder.ts';
import { TEXT_INPUT, pipelineSignature, resolveSettings, settingsMetadata, type PipelineSettings } from './pipeline-settings.ts';

export const TRANSFORMERS_METHOD = 'run';
/** What a save runs through the opened pipeline: texts of different lengths, so padding is exercised too. */
const PROBE_TEXTS = ['tiffin', 'a longer text to check the model answers one row per text'];

/** The pipeline's answer for one text of text-classification with top_k = every label. */
interface LabelScore {
  label: string;
  score: number;
}

/** A Transformers.js tensor, as far as Tiffin reads it. */
interface PipelineTensor {
  dims: number[];
  data: Float32Array;
}

function sessionOptions(options: LoadOptions = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { graphOptimizationLevel: options.graphOptimization ?? 'all' };
  if (options.intraOpThreads !== undefined) out.intraOpNumThreads = options.intraOpThreads;
  if (options.interOpThreads !== undefined) out.interOpNumThreads = options.interOpThreads;
  return out;
}

/** A pipeline loaded in this thread. Servers call it from runner replicas, where a batch's texts arrive together. */
export class TransformersModel implements Model {
  readonly framework = 'transformers';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  private readonly labelIndex: Map<string, number>;

  constructor(
    readonly tag: string,
    readonly signatures: Record<string, Signature>,
    private readonly pipe: TextPipeline,
    private readonly settings: PipelineSettings,
  ) {
    const run = signatures[TRANSFORMERS_METHOD];
    if (!run) throw new TiffinError('MODEL_INVALID', `${tag} has no "${TRANSFORMERS_METHOD}" signature`);
    this.inputs = run.inputs;
    this.outputs = run.outputs;
    this.labelIndex = new Map(settings.task === 'text-classification' ? settings.labels.map((l, i) => [l, i]) : []);
  }

  async run(feeds: Tensors, options: CallOptions = {}): Promise<ModelOutputs> {
    checkFeeds(this.inputs, feeds, this.tag);
    const wanted = options.outputs ?? this.outputs.map((o) => o.name);
    checkOutputNames(this.outputs, wanted, this.tag);
    const texts = feeds[TEXT_INPUT]!.data as string[];
    const bad = texts.findIndex((t) => typeof t !== 'string');
    if (bad >= 0) throw new TiffinError('TENSOR_INVALID', `input "${TEXT_INPUT}" element ${bad} is not a string`);
    const all = this.settings.task === 'feature-extraction' ? await this.embed(texts) : await this.classify(texts, this.settings.labels);
    const out: Tensors = {};
    for (const name of wanted) out[name] = all[name]!;
    return asModelOutputs(out);
  }

  private async callPipeline(texts: string[], options: Record<string, unknown>): Promise<unknown> {
    try {
      return await this.pipe(texts, options);
    } catch (err) {
      throw new TiffinError('INFERENCE_FAILED', `the ${this.settings.task} pipeline of ${this.tag} failed: ${messageOf(err)}`, { cause: err });
    }
  }

  private async embed(texts: string[]): Promise<Tensors> {
    if (this.settings.task !== 'feature-extraction') throw new TiffinError('INTERNAL', 'embed on a classifier');
    const dim = this.outputs[0]!.shape[1]!;
    if (texts.length === 0) return { embeddings: { dtype: 'float32', shape: [0, Math.max(dim, 0)], data: new Float32Array(0) } };
    const t = (await this.callPipeline(texts, { pooling: this.settings.pooling, normalize: this.settings.normalize })) as PipelineTensor;
    if (t.dims.length !== 2 || t.dims[0] !== texts.length || (dim !== -1 && t.dims[1] !== dim)) {
      throw new TiffinError('INFERENCE_FAILED', `${this.tag} returned embeddings of shape [${t.dims.join(', ')}] for ${texts.length} texts; expected [${texts.length}, ${dim}]`);
    }
    return { embeddings: { dtype: 'float32', shape: [...t.dims], data: t.data } };
  }

  /** Every label's score per text, in id2label order, plus the best label and its score. */
  private async classify(texts: string[], labels: string[]): Promise<Tensors> {
    const n = texts.length;
    const scores = new Float32Array(n * labels.length);
    const best: string[] = [];
    const bestScore = new Float32Array(n);
    if (n > 0) {
      const answer = (await this.callPipeline(texts, { top_k: labels.length })) as (LabelScore | LabelScore[])[];
      // With top_k 1 the pipeline answers one object per text, with more an array per text, best first.
      const rows = answer.map((row) => (Array.isArray(row) ? row : [row]));
      if (rows.length !== n) throw new TiffinError('INFERENCE_FAILED', `${this.tag} answered ${rows.length} results for ${n} texts`);
      rows.forEach((row, i) => {
        for (const { label, score } of row) {
          const id = this.labelIndex.get(label);
          if (id === undefined) throw new TiffinError('INFERENCE_FAILED', `${this.tag} answered label ${JSON.stringify(label)}, which config.json does not name`);
          scores[i * labels.length + id] = score;
        }
        best.push(row[0]!.label);
        bestScore[i] = row[0]!.score;
      });
    }
    return {
      label: { dtype: 'string', shape: [n], data: best },
      score: { dtype: 'float32', shape: [n], data: bestScore },
      scores: { dtype: 'float32', shape: [n, labels.length], data: scores },
    };
  }

  async call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    if (method !== TRANSFORMERS_METHOD) throw new TiffinError('NOT_FOUND', `transformers models have one method, "${TRANSFORMERS_METHOD}"; got "${method}"`);
    return this.run(input as Tensors, options);
  }

  async dispose(): Promise<void> {
    await this.pipe.dispose();
  }
}

async function open(dir: string, tag: string, signature: Signature, settings: PipelineSettings, config: Record<string, unknown>, entry: OnnxEntry, options?: LoadOptions): Promise<TransformersModel> {
  const pipe = await openPipeline(dir, { task: settings.task, dtype: entry.dtype, modelFileName: entry.modelFileName, config, sessionOptions: sessionOptions(options) });
  return new TransformersModel(tag, { [TRANSFORMERS_METHOD]: signature }, pipe, settings);
}

/** Runs the probe texts through a freshly opened pipeline; returns the signature with the embedding width it saw. */
async function probe(model: TransformersModel, signature: Signature, dir: string): Promise<Signature> {
  let out: ModelOutputs;
  try {
    out = await model.run({ [TEXT_INPUT]: { dtype: 'string', shape: [PROBE_TEXTS.length], data: [...PROBE_TEXTS] } });
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `the model in ${dir} opened but failed on a test text: ${messageOf(err)}`, { cause: err });
  }
  const embeddings = out.embeddings;
  if (!embeddings) return signature;
  return { ...signature, outputs: [{ name: 'embeddings', dtype: 'float32', shape: [-1, embeddings.shape[1]!] }] };
}

export const transformersRuntime: Runtime = {
  framework: 'transformers',

  async prepare(input: PrepareInput): Promise<PreparedModel> {
    await loadTransformers(); // a missing package is the first thing to say
    const folder = await readModelFolder(input.dir, input.entry);
    const settings = resolveSettings(input.metadata, folder.config);
    const declared = pipelineSignature(settings, folder.outputs, folder.entry.entry, input.signatures?.[TRANSFORMERS_METHOD], input.batchable);
    const model = await open(input.dir, 'saving', declared, settings, folder.config, folder.entry, { intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'disabled' });
    let signature: Signature;
    try {
      signature = await probe(model, declared, input.dir);
    } finally {
      await model.dispose();
    }
    return {
      frameworkVersion: await transformersVersion(),
      entry: folder.entry.entry,
      signatures: { [TRANSFORMERS_METHOD]: signature },
      metadata: settingsMetadata(settings),
    };
  },

  async load(dir: string, manifest: ModelDescriptor, options?: LoadOptions): Promise<Model> {
    const signature = manifest.signatures[TRANSFORMERS_METHOD];
    if (!signature) throw new TiffinError('MANIFEST_INVALID', `${manifest.name}:${manifest.version} has no "${TRANSFORMERS_METHOD}" signature`);
    const config = await readConfig(dir);
    const settings = resolveSettings(manifest.metadata, config);
    return open(dir, `${manifest.name}:${manifest.version}`, signature, settings, config, parseEntry(manifest.entry), options);
  },
};
