// Owns: which pipeline a saved folder runs and how (task, pooling, normalize), read from the user's metadata or
// inferred from config.json, and the signature each task serves: texts in as a string tensor [-1] (V2 BYTES),
// float32 embeddings [-1, dim] out, or the best label, its score and every label's score.
import { TiffinError } from '../../errors/index.ts';
import type { Signature, TensorSpec } from '../tensor.ts';
import type { GraphOutput } from './model-folder.ts';

export const TEXT_INPUT = 'text';
export const TASKS = ['feature-extraction', 'text-classification'] as const;
export type Task = (typeof TASKS)[number];
export const POOLINGS = ['mean', 'cls'] as const;
export type Pooling = (typeof POOLINGS)[number];

const ALIASES: Record<string, Task> = { embeddings: 'feature-extraction', 'sentiment-analysis': 'text-classification' };

export type PipelineSettings =
  | { task: 'feature-extraction'; pooling: Pooling; normalize: boolean }
  | { task: 'text-classification'; labels: string[] };

function invalid(message: string): TiffinError {
  return new TiffinError('MODEL_INVALID', message);
}

/** A *ForSequenceClassification architecture classifies; anything else is served as an encoder. */
function inferTask(config: Record<string, unknown>): Task {
  const architectures = Array.isArray(config.architectures) ? config.architectures : [];
  return architectures.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification')) ? 'text-classification' : 'feature-extraction';
}

/** id2label in id order; ids must run 0..n-1 and labels be distinct (answers name them). */
function labelsOf(config: Record<string, unknown>): string[] {
  const map = config.id2label;
  if (typeof map !== 'object' || map === null || Array.isArray(map) || Object.keys(map).length === 0) {
    throw invalid('config.json has no "id2label" map: a text-classification model names its labels there, e.g. {"0": "negative", "1": "positive"}');
  }
  const entries = Object.entries(map as Record<string, unknown>);
  const labels: string[] = [];
  for (const [key, label] of entries) {
    const id = Number(key);
    if (!Number.isInteger(id) || id < 0 || id >= entries.length || typeof label !== 'string') {
      throw invalid(`config.json id2label must map the ids 0..${entries.length - 1} to label names; got ${JSON.stringify(key)}: ${JSON.stringify(label)}`);
    }
    labels[id] = label;
  }
  if (new Set(labels).size !== labels.length) throw invalid(`config.json id2label names a label twice (${labels.join(', ')}); answers could not tell them apart`);
  return labels;
}

function booleanOf(value: unknown, key: string): boolean {
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw invalid(`metadata ${key} must be true or false, got ${JSON.stringify(value)}`);
}

/**
 * The settings from the user's metadata (`task`, and for feature-extraction `pooling`, `normalize`), with
 * defaults: the task from config.json's architectures, mean pooling, normalized embeddings.
 */
export function resolveSettings(metadata: Record<string, unknown> | undefined, config: Record<string, unknown>): PipelineSettings {
  const m = metadata ?? {};
  const named = m.task === undefined ? inferTask(config) : String(m.task);
  const task = ALIASES[named] ?? named;
  if (task === 'feature-extraction') {
    const pooling = String(m.pooling ?? 'mean');
    if (!(POOLINGS as readonly string[]).includes(pooling)) throw invalid(`metadata pooling must be ${POOLINGS.join(' or ')}, got ${JSON.stringify(m.pooling)}`);
    return { task, pooling: pooling as Pooling, normalize: m.normalize === undefined ? true : booleanOf(m.normalize, 'normalize') };
  }
  if (task === 'text-classification') {
    for (const key of ['pooling', 'normalize']) if (m[key] !== undefined) throw invalid(`metadata ${key} applies to feature-extraction, not text-classification`);
    return { task, labels: labelsOf(config) };
  }
  throw invalid(`task ${JSON.stringify(named)} is not served; the transformers framework serves ${TASKS.join(' and ')} (set it with --metadata task=...)`);
}

/** What the manifest records for load time (labels come from config.json again then). */
export function settingsMetadata(settings: PipelineSettings): Record<string, unknown> {
  return settings.task === 'feature-extraction' ? { task: settings.task, pooling: settings.pooling, normalize: settings.normalize } : { task: settings.task };
}

/** The graph output a task's pipeline reads, checked for the rank the task needs. */
function taskOutput(settings: PipelineSettings, outputs: readonly GraphOutput[], entry: string): GraphOutput {
  const names = outputs.map((o) => o.name).join(', ');
  if (settings.task === 'feature-extraction') {
    // The pipeline takes the first of these that the model returns.
    const out = outputs.find((o) => o.name === 'last_hidden_state') ?? outputs.find((o) => o.name === 'logits') ?? outputs.find((o) => o.name === 'token_embeddings');
    if (!out || out.shape.length !== 3) throw invalid(`${entry} must return last_hidden_state (float32 [batch, sequence, hidden]) for feature-extraction; it returns ${names}`);
    return out;
  }
  const out = outputs.find((o) => o.name === 'logits');
  if (!out || out.shape.length !== 2) throw invalid(`${entry} must return logits (float32 [batch, labels]) for text-classification; it returns ${names}`);
  if (out.shape[1] !== -1 && out.shape[1] !== settings.labels.length) {
    throw invalid(`${entry} returns ${out.shape[1]} logits per text, but config.json id2label names ${settings.labels.length} labels`);
  }
  return out;
}

/** The `run` method: texts in, one row per text out; batchable along dimension 0 unless declared otherwise. */
export function pipelineSignature(settings: PipelineSettings, outputs: readonly GraphOutput[], entry: string, declared: Partial<Signature> = {}, batchable?: boolean): Signature {
  if ((declared.batchDim ?? 0) !== 0) throw invalid('a text pipeline batches along dimension 0 (one row per text)');
  const out = taskOutput(settings, outputs, entry);
  const inputs: TensorSpec[] = [{ name: TEXT_INPUT, dtype: 'string', shape: [-1] }];
  const specs: TensorSpec[] = settings.task === 'feature-extraction'
    ? [{ name: 'embeddings', dtype: 'float32', shape: [-1, out.shape[2]!] }]
    : [
      { name: 'label', dtype: 'string', shape: [-1] },
      { name: 'score', dtype: 'float32', shape: [-1] },
      { name: 'scores', dtype: 'float32', shape: [-1, settings.labels.length] },
    ];
  return { batchable: declared.batchable ?? batchable ?? true, batchDim: 0, inputs, outputs: specs };
}
