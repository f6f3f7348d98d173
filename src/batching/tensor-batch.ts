// Stacking tensors along a batch dimension and cutting them apart again: what turns many requests
// into one model run and its output back into one answer per request. Typed arrays and string[] alike.
import { TiffinError } from '../errors/index.ts';
import { allocData, elementCount, type Tensor, type TensorData, type Tensors } from '../runtime/tensor.ts';

/** A tensor-like value: anything with a dtype, a shape and data. */
export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Tensor>;
  return typeof v.dtype === 'string' && Array.isArray(v.shape) && (Array.isArray(v.data) || ArrayBuffer.isView(v.data));
}

/** A named tensor map: a plain object whose every value is a tensor. */
export function isTensors(value: unknown): value is Tensors {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) return false;
  return Object.values(value).every(isTensor);
}

/** The tensor's length along `dim`; throws when it has no such dimension. */
export function rowsAlong(t: Tensor, dim: number, name: string): number {
  const rows = t.shape[dim];
  if (rows === undefined) {
    throw new TiffinError('TENSOR_INVALID', `"${name}" has shape [${t.shape.join(', ')}], which has no batch dimension ${dim}`);
  }
  return rows;
}

/** Elements before and after `dim` (outer: how many blocks, inner: elements per row of a block). */
function strides(shape: readonly number[], dim: number): { outer: number; inner: number } {
  return { outer: elementCount(shape.slice(0, dim)), inner: elementCount(shape.slice(dim + 1)) };
}

type Writable = { set(src: ArrayLike<number> | ArrayLike<bigint>, offset: number): void };

/** Copies `count` elements from `src` at `from` into `dst` at `to`. */
function copyInto(dst: TensorData, to: number, src: TensorData, from: number, count: number): void {
  if (Array.isArray(dst)) {
    const s = src as string[];
    for (let i = 0; i < count; i++) dst[to + i] = s[from + i]!;
    return;
  }
  const view = (src as Uint8Array).subarray(from, from + count);
  (dst as unknown as Writable).set(view as unknown as ArrayLike<number>, to);
}

/** Stacks tensors along `dim`; every other dimension and the dtype must agree. */
export function concatTensors(parts: readonly Tensor[], dim: number, name = 'tensor'): Tensor {
  const first = parts[0];
  if (!first) throw new TiffinError('INTERNAL', `cannot concatenate zero tensors for "${name}"`);
  if (parts.length === 1) return first;
  let rows = 0;
  for (const p of parts) {
    if (p.dtype !== first.dtype || p.shape.length !== first.shape.length || p.shape.some((d, i) => i !== dim && d !== first.shape[i])) {
      throw new TiffinError('TENSOR_INVALID', `cannot batch "${name}": ${p.dtype} [${p.shape.join(', ')}] does not stack with ${first.dtype} [${first.shape.join(', ')}] along dimension ${dim}`);
    }
    rows += rowsAlong(p, dim, name);
  }
  const shape = first.shape.map((d, i) => (i === dim ? rows : d));
  const data = allocData(first.dtype, elementCount(shape));
  const { outer, inner } = strides(first.shape, dim);
  let offset = 0;
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const block = p.shape[dim]! * inner;
      copyInto(data, offset, p.data, o * block, block);
      offset += block;
    }
  }
  return { dtype: first.dtype, shape, data };
}

/** Rows [start, end) of `t` along `dim`. Along dimension 0 this is a view, not a copy. */
export function sliceTensor(t: Tensor, dim: number, start: number, end: number): Tensor {
  const rows = rowsAlong(t, dim, 'tensor');
  if (start === 0 && end === rows) return t;
  const shape = t.shape.map((d, i) => (i === dim ? end - start : d));
  const { outer, inner } = strides(t.shape, dim);
  if (outer === 1) {
    const data = Array.isArray(t.data) ? t.data.slice(start * inner, end * inner) : (t.data as Uint8Array).subarray(start * inner, end * inner);
    return { dtype: t.dtype, shape, data: data as TensorData };
  }
  const data = allocData(t.dtype, elementCount(shape));
  const block = (end - start) * inner;
  for (let o = 0; o < outer; o++) copyInto(data, o * block, t.data, (o * rows + start) * inner, block);
  return { dtype: t.dtype, shape, data };
}

/** The rows every tensor of a request has along `dim`; they must all agree. */
export function rowsOfTensors(feeds: Tensors, dim: number): number {
  let rows: number | undefined;
  let firstName = '';
  for (const [name, t] of Object.entries(feeds)) {
    const n = rowsAlong(t, dim, name);
    if (rows === undefined) {
      rows = n;
      firstName = name;
    } else if (n !== rows) {
      throw new TiffinError('TENSOR_INVALID', `inputs disagree on the batch size: "${firstName}" has ${rows} rows along dimension ${dim}, "${name}" has ${n}`);
    }
  }
  if (rows === undefined) throw new TiffinError('TENSOR_INVALID', 'a batched call needs at least one input tensor');
  return rows;
}

export function concatBatch(parts: readonly Tensors[], dim: number): Tensors {
  const first = parts[0];
  if (!first) throw new TiffinError('INTERNAL', 'cannot concatenate an empty batch');
  if (parts.length === 1) return first;
  const out: Tensors = {};
  for (const name of Object.keys(first)) {
    out[name] = concatTensors(parts.map((p) => {
      const t = p[name];
      if (!t) throw new TiffinError('TENSOR_INVALID', `cannot batch requests with different inputs: one lacks "${name}"`);
      return t;
    }), dim, name);
  }
  return out;
}

export function sliceBatch(feeds: Tensors, dim: number, start: number, end: number): Tensors {
  const out: Tensors = {};
  for (const [name, t] of Object.entries(feeds)) out[name] = sliceTensor(t, dim, start, end);
  return out;
}

/**
 * Cuts a batch's outputs into consecutive pieces of `counts` rows. Every output must have exactly
 * sum(counts) rows along `dim`: anything else would hand requests each other's answers, so it fails.
 */
export function splitBatch(outputs: Tensors, dim: number, counts: readonly number[]): Tensors[] {
  const total = counts.reduce((a, b) => a + b, 0);
  for (const [name, t] of Object.entries(outputs)) {
    const rows = t.shape[dim];
    if (rows !== total) {
      throw new TiffinError('INFERENCE_FAILED', `output "${name}" has shape [${t.shape.join(', ')}]: ${rows ?? 'no'} rows along batch dimension ${dim}, but the batch had ${total} rows; a batchable model must return one row per input row`, {
        details: { output: name, expectedRows: total, actualRows: rows ?? null, batchDim: dim },
      });
    }
  }
  const pieces: Tensors[] = [];
  let start = 0;
  for (const n of counts) {
    pieces.push(sliceBatch(outputs, dim, start, start + n));
    start += n;
  }
  return pieces;
}
