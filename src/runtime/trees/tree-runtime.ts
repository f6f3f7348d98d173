// Owns: the `xgboost` and `lightgbm` runtimes: finding and parsing the model file when it is saved (a corrupt or
// wrong-format file is refused then, not when served), its signature (input float32 [-1, features]; outputs by
// task), and `TreeModel`, which scores rows in this thread with the flat forest (no native code, no session).
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { TiffinError, messageOf } from '../../errors/index.ts';
import { checkFeeds, checkOutputNames } from '../check.ts';
import { asModelOutputs, type ModelOutputs } from '../model-outputs.ts';
import type { Signature, TensorSpec, Tensors } from '../tensor.ts';
import type { CallOptions, Model, ModelDescriptor, PrepareInput, PreparedModel, Runtime } from '../types.ts';
import { scoreForest, type Forest } from './forest.ts';
import { parseLightgbmText } from './lightgbm-text.ts';
import type { ParsedTrees } from './parsed-trees.ts';
import { headOutputs, inputSpecs, outputSpecs, TREE_INPUT, type TreeHead } from './tree-head.ts';
import { decodeUbjson } from './ubjson.ts';
import { parseXgboostDocument, parseXgboostJson } from './xgboost-json.ts';

export const TREE_METHOD = 'run';

interface TreeFormat {
  framework: string;
  /** File name endings looked for when no entry is named. */
  extensions: string[];
  /** How the library writes the file, for messages. */
  howToSave: string;
  parse(bytes: Buffer, file: string): ParsedTrees;
}

/** UBJSON (model.ubj, XGBoost 2's default binary format) starts with `{` and a type marker, not with text. */
function looksLikeUbjson(bytes: Buffer): boolean {
  return bytes[0] === 0x7b && bytes.length > 1 && 'UiIlLdD$#SHCZTF}N'.includes(String.fromCharCode(bytes[1]!));
}

const XGBOOST: TreeFormat = {
  framework: 'xgboost',
  extensions: ['.json', '.ubj'],
  howToSave: 'booster.save_model("model.json") or ("model.ubj")',
  parse(bytes, file) {
    if (looksLikeUbjson(bytes)) return parseXgboostDocument(decodeUbjson(bytes, file), file);
    return parseXgboostJson(bytes.toString('utf8'), file);
  },
};

const LIGHTGBM: TreeFormat = {
  framework: 'lightgbm',
  extensions: ['.txt'],
  howToSave: 'booster.save_model("model.txt")',
  parse: (bytes, file) => parseLightgbmText(bytes.toString('utf8'), file),
};

async function findEntry(format: TreeFormat, dir: string, entry?: string): Promise<string> {
  if (entry) return entry;
  const files = (await readdir(dir)).filter((f) => format.extensions.includes(extname(f).toLowerCase()));
  if (files.length === 1) return files[0]!;
  throw new TiffinError(
    'MODEL_INVALID',
    files.length === 0
      ? `no ${format.extensions.join(' or ')} file found in ${dir}; ${format.framework} models are saved with ${format.howToSave}`
      : `found ${files.length} ${format.extensions.join('/')} files in ${dir} (${files.join(', ')}); name the one to load with --entry`,
  );
}

async function readModel(format: TreeFormat, path: string, entry: string): Promise<ParsedTrees> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `cannot read ${entry}: ${messageOf(err)}`, { cause: err });
  }
  return format.parse(bytes, entry);
}

/** Tree models score each row on its own, so they batch along dimension 0 unless the user says otherwise. */
function treeSignature(parsed: ParsedTrees, input: PrepareInput): Signature {
  const declared = input.signatures?.[TREE_METHOD] ?? {};
  const batchDim = declared.batchDim ?? 0;
  if (batchDim !== 0) throw new TiffinError('MODEL_INVALID', `tree models batch along dimension 0 (rows), not ${batchDim}`);
  return {
    batchable: declared.batchable ?? input.batchable ?? true,
    batchDim,
    inputs: inputSpecs(parsed.forest.features),
    outputs: outputSpecs(parsed.head, parsed.forest.groups),
  };
}

/** A tree ensemble loaded in this thread. `run` is synchronous work: servers call it from runner replicas. */
export class TreeModel implements Model {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];

  constructor(
    readonly tag: string,
    readonly framework: string,
    readonly signatures: Record<string, Signature>,
    private readonly forest: Forest,
    private readonly head: TreeHead,
  ) {
    this.inputs = inputSpecs(forest.features);
    this.outputs = outputSpecs(head, forest.groups);
  }

  async run(feeds: Tensors, options: CallOptions = {}): Promise<ModelOutputs> {
    checkFeeds(this.inputs, feeds, this.tag);
    const wanted = options.outputs ?? this.outputs.map((o) => o.name);
    checkOutputNames(this.outputs, wanted, this.tag);
    const input = feeds[TREE_INPUT]!;
    const rows = input.shape[0]!;
    const scores = new Float64Array(rows * this.forest.groups);
    scoreForest(this.forest, input.data as Float32Array, rows, scores);
    return asModelOutputs(headOutputs(this.head, scores, rows, this.forest.groups, wanted));
  }

  async call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    if (method !== TREE_METHOD) throw new TiffinError('NOT_FOUND', `${this.framework} models have one method, "${TREE_METHOD}"; got "${method}"`);
    return this.run(input as Tensors, options);
  }

  async dispose(): Promise<void> {}
}

function treeRuntime(format: TreeFormat): Runtime {
  return {
    framework: format.framework,

    async prepare(input: PrepareInput): Promise<PreparedModel> {
      const entry = await findEntry(format, input.dir, input.entry);
      const parsed = await readModel(format, join(input.dir, entry), entry);
      return { frameworkVersion: parsed.version, entry, signatures: { [TREE_METHOD]: treeSignature(parsed, input) } };
    },

    async load(dir: string, manifest: ModelDescriptor): Promise<Model> {
      const parsed = await readModel(format, join(dir, manifest.entry), manifest.entry);
      return new TreeModel(`${manifest.name}:${manifest.version}`, format.framework, manifest.signatures, parsed.forest, parsed.head);
    },
  };
}

export const xgboostRuntime: Runtime = treeRuntime(XGBOOST);
export const lightgbmRuntime: Runtime = treeRuntime(LIGHTGBM);
