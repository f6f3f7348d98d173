// Owns: checking a Hugging Face model folder as Transformers.js lays it out (config.json, tokenizer.json,
// tokenizer_config.json, onnx/<name>[_dtype].onnx) before it is saved: each file present, parsed and of the right
// kind, and the ONNX graph's inputs and outputs those of a text model. A bad folder is refused naming the file.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { TiffinError, messageOf } from '../../errors/index.ts';

/** File-name suffix → Transformers.js dtype (the library's DEFAULT_DTYPE_SUFFIX_MAPPING, reversed). */
const DTYPE_SUFFIXES: Record<string, string> = {
  '': 'fp32', _fp16: 'fp16', _int8: 'int8', _uint8: 'uint8', _quantized: 'q8',
  _q4: 'q4', _q2: 'q2', _q1: 'q1', _q4f16: 'q4f16', _q2f16: 'q2f16', _q1f16: 'q1f16', _bnb4: 'bnb4',
};
const ENTRY_PATTERN = /^onnx\/([\w.-]+?)(_fp16|_int8|_uint8|_quantized|_q4f16|_q2f16|_q1f16|_q4|_q2|_q1|_bnb4)?\.onnx$/;

/** Inputs Transformers.js knows how to feed a text encoder from the tokenizer's output. */
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids']);

export interface OnnxEntry {
  /** Relative to the folder, e.g. onnx/model.onnx. */
  entry: string;
  /** The file name without dtype suffix and extension, Transformers.js's model_file_name. */
  modelFileName: string;
  dtype: string;
}

export interface GraphOutput {
  name: string;
  /** -1 for a dynamic dimension. */
  shape: number[];
}

export interface ModelFolder {
  config: Record<string, unknown>;
  entry: OnnxEntry;
  outputs: GraphOutput[];
}

function invalid(message: string): TiffinError {
  return new TiffinError('MODEL_INVALID', message);
}

async function readJsonObject(dir: string, file: string, what: string): Promise<Record<string, unknown>> {
  const path = join(dir, file);
  if (!existsSync(path)) throw invalid(`${file} is missing from ${dir}: a Transformers.js model folder holds config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx`);
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw invalid(`${file} is not valid JSON (${messageOf(err)}); it should be the ${what} saved with the model`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`${file} must hold a JSON object (the ${what}), not ${Array.isArray(value) ? 'an array' : typeof value}`);
  return value as Record<string, unknown>;
}

async function checkTokenizer(dir: string): Promise<void> {
  const tokenizer = await readJsonObject(dir, 'tokenizer.json', 'fast tokenizer (tokenizers library format)');
  const model = tokenizer.model as Record<string, unknown> | undefined;
  if (typeof model !== 'object' || model === null || (model.type === undefined && model.vocab === undefined)) {
    throw invalid('tokenizer.json has no "model" with a type and vocab: it is not a tokenizers-library file (save it with tokenizer.save_pretrained())');
  }
  await readJsonObject(dir, 'tokenizer_config.json', 'tokenizer settings (special tokens, model_max_length)');
}

/** The dtype and model_file_name Transformers.js needs to pick `entry` (onnx/model_quantized.onnx: q8, model). */
export function parseEntry(entry: string): OnnxEntry {
  const match = ENTRY_PATTERN.exec(entry);
  if (!match) throw invalid(`entry ${entry} is not where Transformers.js looks: it loads onnx/<name>.onnx, or onnx/<name>_<dtype>.onnx (_quantized, _fp16, _q4 ...)`);
  return { entry, modelFileName: match[1]!, dtype: DTYPE_SUFFIXES[match[2] ?? '']! };
}

/** Reads config.json again at load time (it was checked when saved). */
export async function readConfig(dir: string): Promise<Record<string, unknown>> {
  return readJsonObject(dir, 'config.json', 'model configuration');
}

/** The ONNX file to load: the one named, else onnx/model.onnx, else the only onnx/*.onnx. */
async function findEntry(dir: string, named: string | undefined): Promise<OnnxEntry> {
  let entry = named?.split('\\').join('/');
  if (entry === undefined) {
    const files = existsSync(join(dir, 'onnx')) ? (await readdir(join(dir, 'onnx'))).filter((f) => f.endsWith('.onnx')) : [];
    if (files.includes('model.onnx')) entry = 'onnx/model.onnx';
    else if (files.length === 1) entry = `onnx/${files[0]}`;
    else if (files.length === 0) throw invalid(`no ONNX file in ${join(dir, 'onnx')}: Transformers.js loads onnx/model.onnx (export with optimum: optimum-cli export onnx --model <id> <folder>, then move model.onnx into onnx/)`);
    else throw invalid(`onnx/ holds ${files.length} ONNX files (${files.join(', ')}) and no model.onnx; name the one to serve with --entry onnx/<file>`);
  }
  const parsed = parseEntry(entry);
  if (!existsSync(join(dir, entry))) throw invalid(`entry ${entry} does not exist in ${dir}`);
  return parsed;
}

function dims(m: ort.InferenceSession.ValueMetadata): number[] {
  return m.isTensor ? m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) : [];
}

/** Opens the graph with onnxruntime (a corrupt file fails here) and checks it takes what a tokenizer gives. */
async function readGraph(path: string, entry: string): Promise<GraphOutput[]> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'disabled' });
  } catch (err) {
    throw invalid(`${entry} is not a model onnxruntime can load: ${messageOf(err)}`);
  }
  try {
    const inputs = session.inputMetadata;
    const ids = inputs.find((m) => m.name === 'input_ids');
    if (!ids || !ids.isTensor || ids.type !== 'int64' || ids.shape.length !== 2) {
      throw invalid(`${entry} must take input_ids (int64 [batch, sequence]), as Hugging Face text models do; it takes ${inputs.map((m) => m.name).join(', ') || 'nothing'}`);
    }
    const unknown = inputs.filter((m) => !KNOWN_INPUTS.has(m.name)).map((m) => m.name);
    if (unknown.length > 0) throw invalid(`${entry} takes ${unknown.join(', ')}, which a tokenizer does not produce (Transformers.js feeds ${[...KNOWN_INPUTS].join(', ')})`);
    return session.outputMetadata.map((m) => ({ name: m.name, shape: dims(m) }));
  } finally {
    await session.release();
  }
}

/** Every check a folder must pass before it is stored. `named` is the user's --entry, relative to `dir`. */
export async function readModelFolder(dir: string, named?: string): Promise<ModelFolder> {
  if (named !== undefined && !named.endsWith('.onnx')) {
    throw invalid(`save the model folder (the one holding config.json), not the file ${basename(named)}`);
  }
  if (!existsSync(join(dir, 'config.json')) && basename(dir) === 'onnx' && existsSync(join(dir, '..', 'config.json'))) {
    throw invalid(`save the model folder ${join(dir, '..')}, not its onnx/ subfolder or a file in it`);
  }
  const config = await readJsonObject(dir, 'config.json', 'model configuration');
  if (typeof config.model_type !== 'string' || config.model_type === '') {
    throw invalid('config.json has no "model_type" (bert, distilbert, xlm-roberta ...): Transformers.js picks the model class by it');
  }
  await checkTokenizer(dir);
  const entry = await findEntry(dir, named);
  const outputs = await readGraph(join(dir, entry.entry), entry.entry);
  return { config, entry, outputs };
}
