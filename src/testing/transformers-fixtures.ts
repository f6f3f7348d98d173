// Test support: writes a tiny Hugging Face model folder as Transformers.js loads it (config.json, a WordLevel
// tokenizer.json with [CLS] ... [SEP] templating, tokenizer_config.json, onnx/model.onnx from the project's ONNX
// writer), plus the same tokenization in plain TypeScript, so tests compute expected answers independently.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { embeddingBagClassifier, tokenEmbeddingEncoder } from '../onnx/text-models.ts';

/** Token ids are positions in this list; [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3. */
export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'good', 'bad', 'movie', 'very', 'plot', 'boring', 'great', 'the'] as const;
const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];
export const DIM = 4;
/** Longest tokenized text, special tokens included (tokenizer_config.json model_max_length). */
export const MAX_LENGTH = 12;

/** A distinct, non-zero row per token (the [PAD] row too, so a padded position that leaked would show). */
export const EMBEDDINGS: number[][] = VOCAB.map((_, i) => [1 + i, (i % 3) - 1, 0.25 * i, i % 2 === 0 ? 0.5 : -0.5]);
export const LABELS = ['negative', 'positive'];
/** [DIM][labels]: logits = mean embedding · W + B. */
export const WEIGHTS = [[0.1, -0.1], [1, -1], [0, 0.2], [-3, 3]];
export const BIAS = [0.1, -0.1];

/** What the tokenizer.json below does: lower-case, split on whitespace and punctuation, unknown words to [UNK]. */
export function tokenize(text: string): number[] {
  const words = text.toLowerCase().match(/\w+|[^\w\s]+/g) ?? [];
  const ids = words.map((w) => {
    const id = (VOCAB as readonly string[]).indexOf(w);
    return id < 0 || id < SPECIAL.length ? 1 : id;
  });
  return [2, ...ids.slice(0, MAX_LENGTH - 2), 3];
}

function tokenizerJson(): unknown {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const cls = { SpecialToken: { id: '[CLS]', type_id: 0 } };
  const sep = { SpecialToken: { id: '[SEP]', type_id: 0 } };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((t, i) => special(i, t)),
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep],
      pair: [cls, { Sequence: { id: 'A', type_id: 0 } }, sep, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: null,
    model: { type: 'WordLevel', vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])), unk_token: '[UNK]' },
  };
}

export type TinyTask = 'feature-extraction' | 'text-classification';

/** Writes the folder at `dir`: an encoder (last_hidden_state) or a classifier (logits) with id2label. */
export async function writeTinyModel(dir: string, task: TinyTask): Promise<string> {
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const classifier = task === 'text-classification';
  const onnx = classifier
    ? embeddingBagClassifier({ embeddings: EMBEDDINGS, weights: WEIGHTS, bias: BIAS })
    : tokenEmbeddingEncoder({ embeddings: EMBEDDINGS });
  await writeFile(join(dir, 'onnx', 'model.onnx'), onnx);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({
    model_max_length: MAX_LENGTH, pad_token: '[PAD]', unk_token: '[UNK]', cls_token: '[CLS]', sep_token: '[SEP]',
  }));
  const config: Record<string, unknown> = { model_type: 'bert', hidden_size: DIM, vocab_size: VOCAB.length };
  if (classifier) {
    config.architectures = ['BertForSequenceClassification'];
    config.id2label = Object.fromEntries(LABELS.map((l, i) => [String(i), l]));
    config.label2id = Object.fromEntries(LABELS.map((l, i) => [l, i]));
  } else {
    config.architectures = ['BertModel'];
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

/** Mean of the texts' token rows (every token is unmasked in an unpadded text), L2-normalized when asked. */
export function expectedEmbedding(text: string, pooling: 'mean' | 'cls', normalize: boolean): number[] {
  const ids = tokenize(text);
  const rows = pooling === 'cls' ? [EMBEDDINGS[ids[0]!]!] : ids.map((id) => EMBEDDINGS[id]!);
  const v = Array.from({ length: DIM }, (_, d) => rows.reduce((s, r) => s + r[d]!, 0) / rows.length);
  if (!normalize) return v;
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** softmax(mean embedding · W + B), per label in id order. */
export function expectedScores(text: string): number[] {
  const mean = expectedEmbedding(text, 'mean', false);
  const logits = LABELS.map((_, l) => mean.reduce((s, x, d) => s + x * WEIGHTS[d]![l]!, BIAS[l]!));
  const top = Math.max(...logits);
  const exp = logits.map((z) => Math.exp(z - top));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((e) => e / sum);
}
