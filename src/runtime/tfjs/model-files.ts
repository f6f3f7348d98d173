// A TensorFlow.js model folder as saved by `model.save()` or the tensorflowjs converter: model.json (a layers model's
// Keras topology, or a graph model's nodes) and the binary weight shards its weightsManifest lists. Checked before
// it is stored: the JSON parses, every shard is inside the folder and present, and the shards hold exactly the bytes
// the manifest's weights need, so a truncated or swapped file is refused at save time.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, sep } from 'node:path';
import { TiffinError, messageOf } from '../../errors/index.ts';
import type { TfArtifacts } from './library.ts';

export type TfjsFormat = 'layers-model' | 'graph-model';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

interface ModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  modelTopology?: Record<string, unknown>;
  weightsManifest?: { paths: string[]; weights: WeightSpec[] }[];
  signature?: unknown;
  userDefinedMetadata?: unknown;
  modelInitializer?: unknown;
  trainingConfig?: unknown;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2, complex64: 8 };

function invalid(message: string, cause?: unknown): TiffinError {
  return new TiffinError('MODEL_INVALID', message, cause === undefined ? {} : { cause });
}

/** The model.json of a folder (`entry` when given), parsed and checked; its format and weight paths. */
export async function readModelJson(dir: string, entry = 'model.json'): Promise<{ json: ModelJson; format: TfjsFormat; shards: string[] }> {
  const file = join(dir, entry);
  if (!existsSync(file)) throw invalid(`${entry} does not exist in ${dir}: a TensorFlow.js model is a folder with model.json and its weight shards`);
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ModelJson;
  } catch (err) {
    throw invalid(`${entry} is not valid JSON: ${messageOf(err)}`, err);
  }
  const topology = json.modelTopology;
  if (!topology || typeof topology !== 'object') throw invalid(`${entry} has no modelTopology: not a TensorFlow.js model.json`);
  const format: TfjsFormat | undefined =
    json.format === 'graph-model' || Array.isArray(topology.node) ? 'graph-model'
      : json.format === 'layers-model' || topology.model_config !== undefined || topology.class_name !== undefined ? 'layers-model'
        : undefined;
  if (!format) throw invalid(`${entry} is neither a layers model (modelTopology.model_config) nor a graph model (modelTopology.node)`);
  if (!Array.isArray(json.weightsManifest)) throw invalid(`${entry} has no weightsManifest listing its weight files`);
  const shards: string[] = [];
  for (const group of json.weightsManifest) {
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) throw invalid(`${entry}: every weightsManifest entry needs paths and weights`);
    let need = 0;
    for (const w of group.weights) {
      const bytes = BYTES[w.quantization?.dtype ?? w.dtype];
      if (bytes === undefined || !Array.isArray(w.shape)) throw invalid(`${entry}: weight ${w.name} has dtype ${w.dtype}, which TensorFlow.js cannot read`);
      need += w.shape.reduce((a, b) => a * b, 1) * bytes;
    }
    let have = 0;
    for (const path of group.paths) {
      const local = normalize(path);
      if (local.startsWith('..') || local.startsWith(sep)) throw invalid(`${entry}: weight file ${path} is outside the model folder`);
      const size = await stat(join(dir, local)).then((s) => s.size, () => undefined);
      if (size === undefined) throw invalid(`${entry} lists the weight file ${path}, which is not in ${dir}`);
      have += size;
      shards.push(local);
    }
    if (have !== need) throw invalid(`the weight files ${group.paths.join(', ')} hold ${have} bytes; the weights they carry (${group.weights.length}) need ${need}: truncated or not this model's`);
  }
  return { json, format, shards };
}

/** Everything a loader needs, read into memory: the topology, the weight specs and all shards as one buffer. */
export async function readArtifacts(dir: string, entry?: string): Promise<{ artifacts: TfArtifacts; format: TfjsFormat }> {
  const { json, format, shards } = await readModelJson(dir, entry);
  const buffers = await Promise.all(shards.map((s) => readFile(join(dir, s))));
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const artifacts: TfArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest!.flatMap((g) => g.weights),
    weightData,
    format,
  };
  for (const key of ['generatedBy', 'convertedBy', 'signature', 'userDefinedMetadata', 'modelInitializer', 'trainingConfig'] as const) {
    if (json[key] !== undefined) (artifacts as unknown as Record<string, unknown>)[key] = json[key];
  }
  return { artifacts, format };
}
