// Tensor elements in JSON, shared by the protocol adapters: JSON values to typed arrays (with range
// checks), typed arrays to JSON text (flat or nested), and nested arrays flattened against a shape.
// 64-bit integers are written with every digit (JSON.stringify cannot); non-finite floats travel as the
// strings "NaN", "Infinity" and "-Infinity", which are also accepted on input.
import { TiffinError } from '../errors/index.ts';
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from '../runtime/half.ts';
import { allocData, elementCount, type DType, type Tensor, type TensorData } from '../runtime/tensor.ts';

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
  uint8: [0, 255], uint16: [0, 65535], uint32: [0, 4294967295],
};

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity };

function bad(where: string, index: number, dtype: DType, value: unknown): TiffinError {
  const shown = JSON.stringify(value) ?? String(value);
  return new TiffinError('TENSOR_INVALID', `${where}: element ${index} (${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}) is not a valid ${dtype} value`);
}

function floatOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return NON_FINITE[v];
  return undefined;
}

function bigOf(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,20}$/.test(v)) return BigInt(v);
  return undefined;
}

/** Converts flat JSON values into `dtype` storage; TENSOR_INVALID names the first element that does not fit. */
export function jsonToTensorData(dtype: DType, values: readonly unknown[], where: string): TensorData {
  const n = values.length;
  const data = allocData(dtype, n);
  switch (dtype) {
    case 'string': {
      const out = data as string[];
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'string') throw bad(where, i, dtype, v);
        out[i] = v;
      }
      return out;
    }
    case 'bool': {
      const out = data as Uint8Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'boolean') throw bad(where, i, dtype, v);
        out[i] = v ? 1 : 0;
      }
      return out;
    }
    case 'float32':
    case 'float64': {
      const out = data as Float32Array | Float64Array;
      for (let i = 0; i < n; i++) {
        const f = floatOf(values[i]);
        if (f === undefined) throw bad(where, i, dtype, values[i]);
        out[i] = f;
      }
      return out;
    }
    case 'float16':
    case 'bfloat16': {
      const out = data as Uint16Array;
      const toBits = dtype === 'float16' ? toFloat16Bits : toBFloat16Bits;
      for (let i = 0; i < n; i++) {
        const f = floatOf(values[i]);
        if (f === undefined) throw bad(where, i, dtype, values[i]);
        out[i] = toBits(f);
      }
      return out;
    }
    case 'int64':
    case 'uint64': {
      const out = data as BigInt64Array | BigUint64Array;
      const signed = dtype === 'int64';
      for (let i = 0; i < n; i++) {
        const b = bigOf(values[i]);
        if (b === undefined || (signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b)) !== b) throw bad(where, i, dtype, values[i]);
        out[i] = b;
      }
      return out;
    }
    default: {
      const [min, max] = INT_RANGE[dtype]!;
      const out = data as Int32Array;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw bad(where, i, dtype, v);
        out[i] = v;
      }
      return out;
    }
  }
}

/**
 * How NaN and ±Infinity are written: as strings (`"NaN"`, valid JSON; the V2 adapter) or as the bare
 * tokens TF Serving writes (`NaN`, which strict JSON parsers reject).
 */
export type NonFiniteStyle = 'string' | 'token';

/** One element as JSON text. */
function elementWriter(dtype: DType, nonFinite: NonFiniteStyle = 'string'): (data: TensorData, i: number) => string {
  const float = nonFinite === 'string'
    ? (x: number): string => (Number.isFinite(x) ? String(x) : `"${String(x)}"`)
    : (x: number): string => String(x);
  switch (dtype) {
    case 'string': return (d, i) => JSON.stringify((d as string[])[i]);
    case 'bool': return (d, i) => ((d as Uint8Array)[i] ? 'true' : 'false');
    case 'float16': return (d, i) => float(fromFloat16Bits((d as Uint16Array)[i]!));
    case 'bfloat16': return (d, i) => float(fromBFloat16Bits((d as Uint16Array)[i]!));
    case 'float32':
    case 'float64': return (d, i) => float((d as Float64Array)[i]!);
    default: return (d, i) => String((d as Int32Array | BigInt64Array)[i]);
  }
}

/** The tensor's elements as a flat JSON array, row-major. */
export function flatJson(t: Tensor): string {
  const write = elementWriter(t.dtype);
  const n = t.data.length;
  const parts = new Array<string>(n);
  for (let i = 0; i < n; i++) parts[i] = write(t.data, i);
  return `[${parts.join(',')}]`;
}

export interface NestedJsonOptions {
  /** The shape to nest to (default the tensor's); with `offset`, writes one row of a batch. */
  shape?: readonly number[];
  offset?: number;
  nonFinite?: NonFiniteStyle;
  /** Replaces how one element is written (TF Serving's {"b64": ...} strings). */
  leaf?: (i: number) => string;
}

/** The elements nested to a shape (a scalar for an empty shape), as JSON text. */
export function nestedJson(t: Tensor, options: NestedJsonOptions = {}): string {
  const { shape = t.shape, offset = 0, leaf } = options;
  const element = elementWriter(t.dtype, options.nonFinite);
  const write = leaf ?? ((i: number) => element(t.data, i));
  const walk = (dim: number, start: number): string => {
    if (dim === shape.length) return write(start);
    const size = shape[dim]!;
    const stride = elementCount(shape.slice(dim + 1));
    const parts = new Array<string>(size);
    for (let k = 0; k < size; k++) parts[k] = walk(dim + 1, start + k * stride);
    return `[${parts.join(',')}]`;
  };
  return walk(0, offset);
}

export { nestedShape } from '../runtime/tensor.ts';

/** Flattens a nested array that must have exactly `shape`; TENSOR_INVALID when it is ragged or deeper. */
export function flattenNested(value: unknown, shape: readonly number[], where: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, dim: number): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) throw new TiffinError('TENSOR_INVALID', `${where}: data nests deeper than the shape [${shape.join(', ')}]`);
      out.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new TiffinError('TENSOR_INVALID', `${where}: data does not match the shape [${shape.join(', ')}] at dimension ${dim}`);
    }
    for (const item of v) walk(item, dim + 1);
  };
  walk(value, 0);
  return out;
}
