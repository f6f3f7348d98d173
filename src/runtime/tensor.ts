// Owns: Tiffin's framework-neutral tensor: a dtype, a shape and a typed array, plus the dtype table
// every layer shares (runtimes, batching, protocol adapters). Knows nothing of any framework.
import { TiffinError } from '../errors/index.ts';

export const DTYPES = [
  'float16', 'bfloat16', 'float32', 'float64',
  'int8', 'int16', 'int32', 'int64',
  'uint8', 'uint16', 'uint32', 'uint64',
  'bool', 'string',
] as const;

export type DType = (typeof DTYPES)[number];

/** Storage per dtype. float16/bfloat16 keep their raw 16-bit patterns; bool is one byte per element. */
export interface TensorDataMap {
  float16: Uint16Array;
  bfloat16: Uint16Array;
  float32: Float32Array;
  float64: Float64Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  int64: BigInt64Array;
  uint8: Uint8Array;
  uint16: Uint16Array;
  uint32: Uint32Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
  string: string[];
}

export type TensorData = TensorDataMap[DType];

export interface Tensor<D extends DType = DType> {
  dtype: D;
  /** Concrete dimensions, row-major. */
  shape: number[];
  data: TensorDataMap[D];
}

/** A named tensor map, the currency of `Model.run`. */
export type Tensors = Record<string, Tensor>;

/** The declared form of an input or output: -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
}

/** One method of a model: what it takes and returns, and whether calls may be stacked into one batch. */
export interface Signature {
  /** Whether calls to this method can be grouped into one batch. */
  batchable: boolean;
  /** The dimension along which inputs are stacked and outputs split (usually 0). */
  batchDim: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

type TypedArrayCtor = { new (n: number | ArrayLike<number> | ArrayBufferLike): ArrayLike<number> & { buffer: ArrayBufferLike } };

const CTORS: Record<Exclude<DType, 'string'>, unknown> = {
  float16: Uint16Array, bfloat16: Uint16Array, float32: Float32Array, float64: Float64Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array,
  bool: Uint8Array,
};

/** Bytes per element; strings have no fixed width (0). */
export function bytesPerElement(dtype: DType): number {
  if (dtype === 'string') return 0;
  return (CTORS[dtype] as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
}

export function isDType(value: unknown): value is DType {
  return typeof value === 'string' && (DTYPES as readonly string[]).includes(value);
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates a zero-filled array of `length` elements for `dtype`. */
export function allocData<D extends DType>(dtype: D, length: number): TensorDataMap[D] {
  if (dtype === 'string') return new Array<string>(length).fill('') as TensorDataMap[D];
  const Ctor = CTORS[dtype as Exclude<DType, 'string'>] as TypedArrayCtor;
  return new Ctor(length) as unknown as TensorDataMap[D];
}

/** Builds a tensor and checks that the data's kind and length agree with dtype and shape. */
export function tensor<D extends DType>(dtype: D, shape: number[], data: TensorDataMap[D]): Tensor<D> {
  const t: Tensor<D> = { dtype, shape, data };
  assertTensor(t);
  return t;
}

export function assertTensor(t: Tensor, name = 'tensor'): void {
  if (!isDType(t.dtype)) throw new TiffinError('TENSOR_INVALID', `${name}: unknown dtype "${String(t.dtype)}"`);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TiffinError('TENSOR_INVALID', `${name}: shape must be a list of non-negative integers, got ${JSON.stringify(t.shape)}`);
  }
  const expectedKind = t.dtype === 'string' ? Array : (CTORS[t.dtype] as TypedArrayCtor);
  const ok = t.dtype === 'string' ? Array.isArray(t.data) : t.data instanceof (expectedKind as unknown as typeof Uint8Array);
  if (!ok) throw new TiffinError('TENSOR_INVALID', `${name}: ${t.dtype} data must be a ${t.dtype === 'string' ? 'string[]' : (expectedKind as { name: string }).name}`);
  const n = elementCount(t.shape);
  if (t.data.length !== n) {
    throw new TiffinError('TENSOR_INVALID', `${name}: shape [${t.shape.join(', ')}] needs ${n} elements, data has ${t.data.length}`);
  }
}

/** True when a concrete shape fits a declared one (-1 matches any size). */
export function shapeMatches(spec: readonly number[], actual: readonly number[]): boolean {
  return spec.length === actual.length && spec.every((d, i) => d === -1 || d === actual[i]);
}

/** The shape of a nested JSON array, read along its first elements (callers check it when flattening). */
export function nestedShape(value: unknown): number[] {
  const shape: number[] = [];
  let cur = value;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}
