// Owns: tiny text models in the shape Hugging Face exports them (input_ids and attention_mask int64 [batch, seq]),
// small enough that a test computes their answers by hand: an embedding-table encoder (last_hidden_state) and a
// classifier over the masked mean of those embeddings (logits). Knows nothing about tokenizers or serving them.
import { TiffinError } from '../errors/index.ts';
import { DataType } from './proto.ts';
import { GraphBuilder } from './writer.ts';

/** One row per token id: `embeddings[id]` is that token's vector. */
export interface TokenEmbeddingOptions {
  embeddings: readonly (readonly number[])[];
}

export interface EmbeddingClassifierOptions extends TokenEmbeddingOptions {
  /** [dim][labels]: logits = mean · W + b. */
  weights: readonly (readonly number[])[];
  bias: readonly number[];
}

function table(embeddings: readonly (readonly number[])[]): { vocab: number; dim: number; values: number[] } {
  const vocab = embeddings.length;
  const dim = embeddings[0]?.length ?? 0;
  if (vocab === 0 || dim === 0) throw new TiffinError('MODEL_INVALID', 'embeddings must be a non-empty [vocab][dim] table');
  if (embeddings.some((row) => row.length !== dim)) throw new TiffinError('MODEL_INVALID', `every embeddings row must have ${dim} entries`);
  return { vocab, dim, values: embeddings.flat() };
}

/**
 * The shared start of both graphs: hidden = embeddings[input_ids] × attention_mask (a padded position is a zero
 * vector, as a real encoder's output there is meaningless), and the float mask [batch, seq, 1] for pooling.
 */
function encoder(name: string, embeddings: readonly (readonly number[])[]): { graph: GraphBuilder; dim: number } {
  const { vocab, dim, values } = table(embeddings);
  const graph = new GraphBuilder(name)
    .input('input_ids', 'int64', ['batch', 'sequence'])
    .input('attention_mask', 'int64', ['batch', 'sequence'])
    .initializer('embeddings', 'float32', [vocab, dim], values)
    .initializer('last_axis', 'int64', [1], [-1])
    .node('Gather', ['embeddings', 'input_ids'], ['token_vectors'], { axis: 0 })
    .node('Cast', ['attention_mask'], ['mask_float'], { to: DataType.FLOAT })
    .node('Unsqueeze', ['mask_float', 'last_axis'], ['mask3'])
    .node('Mul', ['token_vectors', 'mask3'], ['last_hidden_state']);
  return { graph, dim };
}

/** input_ids, attention_mask int64 [batch, sequence] → last_hidden_state float32 [batch, sequence, dim]. */
export function tokenEmbeddingEncoder({ embeddings }: TokenEmbeddingOptions): Uint8Array {
  const { graph, dim } = encoder('token_embedding_encoder', embeddings);
  return graph.output('last_hidden_state', 'float32', ['batch', 'sequence', dim]).build();
}

/**
 * input_ids, attention_mask int64 [batch, sequence] → logits float32 [batch, labels] =
 * (Σ over unmasked tokens of embeddings[id]) / (unmasked tokens) · W + b.
 */
export function embeddingBagClassifier({ embeddings, weights, bias }: EmbeddingClassifierOptions): Uint8Array {
  const { graph, dim } = encoder('embedding_bag_classifier', embeddings);
  const labels = weights[0]?.length ?? 0;
  if (weights.length !== dim || labels === 0 || weights.some((r) => r.length !== labels)) {
    throw new TiffinError('MODEL_INVALID', `weights must be a [${dim}][labels] matrix (one row per embedding dimension)`);
  }
  if (bias.length !== labels) throw new TiffinError('MODEL_INVALID', `bias must have ${labels} entries, got ${bias.length}`);
  return graph
    .initializer('sequence_axis', 'int64', [1], [1])
    .initializer('W', 'float32', [dim, labels], weights.flat())
    .initializer('B', 'float32', [labels], bias)
    .node('ReduceSum', ['last_hidden_state', 'sequence_axis'], ['summed'], { keepdims: 0 })
    .node('ReduceSum', ['mask3', 'sequence_axis'], ['counted'], { keepdims: 0 })
    .node('Div', ['summed', 'counted'], ['mean'])
    .node('MatMul', ['mean', 'W'], ['scaled'])
    .node('Add', ['scaled', 'B'], ['logits'])
    .output('logits', 'float32', ['batch', labels])
    .build();
}
