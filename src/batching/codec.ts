// How a method's inputs become one batch and its output becomes one answer per request. Batchable
// methods take named tensors (stacked along the batch dimension) or an array of items (one per row);
// unbatched methods go through the dispatcher too, one request per run, to share its queue policy.
import { TiffinError } from '../errors/index.ts';
import type { Tensor, Tensors } from '../runtime/tensor.ts';
import {
  concatBatch, concatTensors, isTensor, isTensors, rowsOfTensors, sliceBatch, sliceTensor, splitBatch,
} from './tensor-batch.ts';

export interface BatchCodec<I = unknown, O = unknown> {
  /** Rows the request contributes; throws (4xx) when the input cannot be batched. */
  rows(input: I): number;
  /** Requests are batched together only when their keys are equal (same names, dtypes, other dimensions). */
  key(input: I): string;
  slice(input: I, start: number, end: number): I;
  concat(parts: I[]): I;
  /** Cuts a batch's output into pieces of `counts` rows, or throws when its length does not match. */
  split(output: O, counts: number[]): O[];
  /** Re-joins the pieces of a request that was split across batches, in order. */
  join(parts: O[]): O;
}

/** One request per run, passed through untouched (methods that are not batchable). */
export const singleCodec: BatchCodec = {
  rows: () => 1,
  key: () => '',
  slice: (input) => input,
  concat: (parts) => parts[0],
  split: (output) => [output],
  join: (parts) => parts[0],
};

function tensorsKey(feeds: Tensors, dim: number): string {
  return Object.keys(feeds).sort().map((name) => {
    const t = feeds[name]!;
    return `${name}:${t.dtype}[${t.shape.map((d, i) => (i === dim ? '*' : d)).join(',')}]`;
  }).join(' ');
}

function mismatch(what: string, rows: number | string, total: number): TiffinError {
  return new TiffinError('INFERENCE_FAILED', `${what} has ${rows} rows, but the batch had ${total} rows; a batchable method must return one result per input row`, {
    details: { expectedRows: total, actualRows: rows },
  });
}

/**
 * Row batching along `batchDim`. Inputs: named tensors, or an array with one item per row. Outputs:
 * named tensors, a single tensor, or an array, each checked to have exactly one row per input row.
 */
export function rowCodec(batchDim: number): BatchCodec {
  return {
    rows(input) {
      if (Array.isArray(input)) return input.length;
      if (isTensors(input)) return rowsOfTensors(input, batchDim);
      throw new TiffinError('BAD_REQUEST', 'a batchable method takes named tensors or an array with one item per row');
    },
    key: (input) => (Array.isArray(input) ? '[]' : tensorsKey(input as Tensors, batchDim)),
    slice: (input, start, end) => (Array.isArray(input) ? input.slice(start, end) : sliceBatch(input as Tensors, batchDim, start, end)),
    concat(parts) {
      if (parts.length === 1) return parts[0];
      return Array.isArray(parts[0]) ? (parts as unknown[][]).flat(1) : concatBatch(parts as Tensors[], batchDim);
    },
    split(output, counts) {
      const total = counts.reduce((a, b) => a + b, 0);
      if (Array.isArray(output)) {
        if (output.length !== total) throw mismatch('the output array', output.length, total);
        let start = 0;
        return counts.map((n) => output.slice(start, (start += n)));
      }
      if (isTensor(output)) {
        const rows = output.shape[batchDim];
        if (rows !== total) throw mismatch(`the output tensor [${output.shape.join(', ')}]`, rows ?? 'no', total);
        let start = 0;
        return counts.map((n) => sliceTensor(output, batchDim, start, (start += n)));
      }
      if (isTensors(output)) return splitBatch(output, batchDim, counts);
      throw new TiffinError('INFERENCE_FAILED', 'a batchable method must return named tensors, a tensor or an array with one result per input row');
    },
    join(parts) {
      if (parts.length === 1) return parts[0];
      const first = parts[0];
      if (Array.isArray(first)) return (parts as unknown[][]).flat(1);
      if (isTensor(first)) return concatTensors(parts as Tensor[], batchDim, 'output');
      return concatBatch(parts as Tensors[], batchDim);
    },
  };
}
