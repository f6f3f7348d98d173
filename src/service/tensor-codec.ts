// Tensors on the wire: nested JSON arrays or `{ shape, data }` objects, and little-endian binary with the
// dtype and shape in headers. Both directions, with a validation issue for every element that does not fit.
import { endianness } from 'node:os';
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from '../runtime/half.ts';
import { allocData, bytesPerElement, elementCount, nestedShape, type DType, type Tensor, type TensorData } from '../runtime/tensor.ts';
import { TiffinError, messageOf } from '../errors/index.ts';
import { TensorBudget, checkStrings, type RequestLimits } from '../limits/index.ts';
import { OFFLOAD_MIN_BYTES, offload } from '../offload/index.ts';
import type { FieldPath, ValidationIssue } from './validation.ts';

export const TENSOR_DTYPE_HEADER = 'x-tensor-dtype';
export const TENSOR_SHAPE_HEADER = 'x-tensor-shape';
export const BINARY_MEDIA_TYPE = 'application/octet-stream';

const MAX_ISSUES = 10;

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int8: [-128, 127], int16: [-32768, 32767], int32: [-2147483648, 2147483647],
  uint8: [0, 255], uint16: [0, 65535], uint32: [0, 4294967295],
};

/** `2,4` -> [2, 4]; the empty string is a scalar. Undefined when malformed. */
export function parseShapeHeader(value: string): number[] | undefined {
  if (value.trim() === '') return [];
  const dims = value.split(',').map((d) => Number(d.trim()));
  return dims.every((d) => Number.isInteger(d) && d >= 0) ? dims : undefined;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Flattens a nested array of the given shape, recording where it is ragged. */
function flatten(value: unknown, shape: readonly number[], out: unknown[], issues: ValidationIssue[], path: FieldPath = []): void {
  if (issues.length >= MAX_ISSUES) return;
  const depth = path.length;
  if (depth === shape.length) {
    if (Array.isArray(value)) issues.push({ path, message: `expected a ${shape.length}-dimensional array, found deeper nesting` });
    else out.push(value);
    return;
  }
  if (!Array.isArray(value) || value.length !== shape[depth]) {
    issues.push({ path, message: `expected an array of ${shape[depth]} elements (the array is not rectangular)` });
    return;
  }
  for (let i = 0; i < value.length; i++) flatten(value[i], shape, out, issues, [...path, i]);
}

/** Converts JS values into a typed array of `dtype`, with an issue for each value that does not fit. */
export function toTensorData(dtype: DType, values: readonly unknown[], issues: ValidationIssue[], pathOf: (i: number) => FieldPath): TensorData {
  const data = allocData(dtype, values.length);
  const bad = (i: number, message: string) => {
    if (issues.length < MAX_ISSUES) issues.push({ path: pathOf(i), message });
  };
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    switch (dtype) {
      case 'string':
        if (typeof v === 'string') (data as string[])[i] = v;
        else bad(i, 'expected a string');
        break;
      case 'bool':
        if (typeof v === 'boolean' || v === 0 || v === 1) (data as Uint8Array)[i] = v ? 1 : 0;
        else bad(i, 'expected a boolean');
        break;
      case 'int64':
      case 'uint64': {
        let big: bigint | undefined;
        if (typeof v === 'number' && Number.isSafeInteger(v)) big = BigInt(v);
        else if (typeof v === 'string' && /^-?\d+$/.test(v)) big = BigInt(v);
        const fits = big !== undefined && (dtype === 'int64' ? BigInt.asIntN(64, big) === big : BigInt.asUintN(64, big) === big);
        if (fits) (data as BigInt64Array | BigUint64Array)[i] = big!;
        else bad(i, `expected an integer that fits ${dtype} (numbers beyond 2^53 as decimal strings)`);
        break;
      }
      default: {
        if (typeof v !== 'number') {
          bad(i, 'expected a number');
          break;
        }
        const range = INT_RANGE[dtype];
        if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) {
          bad(i, `expected an integer from ${range[0]} to ${range[1]} (${dtype})`);
          break;
        }
        const arr = data as Exclude<TensorData, string[] | BigInt64Array | BigUint64Array>;
        arr[i] = dtype === 'float16' ? toFloat16Bits(v) : dtype === 'bfloat16' ? toBFloat16Bits(v) : v;
      }
    }
  }
  return data;
}

/**
 * Reads a tensor from JSON: a nested array, or `{ shape, data, dtype? }` with flat data.
 * Returns the tensor, or the issues that stop it.
 */
export function tensorFromJson(value: unknown, dtype: DType): { tensor: Tensor } | { issues: ValidationIssue[] } {
  const issues: ValidationIssue[] = [];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    if (obj.dtype !== undefined && obj.dtype !== dtype) return { issues: [{ path: ['dtype'], message: `expected dtype ${dtype}, got ${JSON.stringify(obj.dtype)}` }] };
    const shape = obj.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      return { issues: [{ path: ['shape'], message: 'expected a list of non-negative integers' }] };
    }
    if (!Array.isArray(obj.data)) return { issues: [{ path: ['data'], message: 'expected a flat array of elements' }] };
    const dims = shape as number[];
    if (obj.data.length !== elementCount(dims)) {
      return { issues: [{ path: ['data'], message: `shape ${formatShape(dims)} needs ${elementCount(dims)} elements, got ${obj.data.length}` }] };
    }
    const data = toTensorData(dtype, obj.data, issues, (i) => ['data', i]);
    return issues.length ? { issues } : { tensor: { dtype, shape: dims, data } };
  }
  if (value === undefined) {
    return { issues: [{ path: [], message: 'the body is empty; send a tensor as a nested JSON array or as binary' }] };
  }
  const shape = nestedShape(value);
  const flat: unknown[] = [];
  flatten(value, shape, flat, issues);
  if (issues.length) return { issues };
  // Element paths point into the nested array: flat index -> [i, j, k].
  const pathOf = (index: number): FieldPath => {
    const path: number[] = [];
    for (let d = shape.length - 1; d >= 0; d--) {
      const size = shape[d]!;
      path.unshift(index % size);
      index = Math.floor(index / size);
    }
    return path;
  };
  const data = toTensorData(dtype, flat, issues, pathOf);
  return issues.length ? { issues } : { tensor: { dtype, shape, data } };
}

/** Little-endian hosts can view the bytes directly; big-endian hosts swap each element. */
const LITTLE_ENDIAN = endianness() === 'LE';

function swapBytes(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}

/** Copies little-endian bytes into a fresh, aligned typed array of `dtype`. */
export function tensorDataFromBytes(dtype: Exclude<DType, 'string'>, bytes: Uint8Array): TensorData {
  const width = bytesPerElement(dtype);
  const data = allocData(dtype, bytes.length / width) as Exclude<TensorData, string[]>;
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  view.set(bytes);
  if (!LITTLE_ENDIAN && width > 1) swapBytes(view, width);
  return data;
}

/** The little-endian bytes of a tensor's data. */
export function tensorBytes(t: Tensor): Buffer {
  if (t.dtype === 'string' || Array.isArray(t.data)) throw new Error('string tensors have no binary form');
  const data = t.data as Exclude<TensorData, string[]>;
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (LITTLE_ENDIAN || bytesPerElement(t.dtype) === 1) return bytes;
  const copy = Buffer.from(bytes);
  swapBytes(copy, bytesPerElement(t.dtype));
  return copy;
}

/** JSON-friendly elements: 16-bit floats as numbers, bools as booleans, 64-bit integers as numbers when exact, else strings. */
export function tensorDataToJson(t: Tensor): unknown[] {
  switch (t.dtype) {
    case 'float16':
      return Array.from(t.data as Uint16Array, fromFloat16Bits);
    case 'bfloat16':
      return Array.from(t.data as Uint16Array, fromBFloat16Bits);
    case 'bool':
      return Array.from(t.data as Uint8Array, (v) => v !== 0);
    case 'int64':
    case 'uint64':
      return Array.from(t.data as BigInt64Array | BigUint64Array, (v: bigint) => {
        const n = Number(v);
        return Number.isSafeInteger(n) ? n : v.toString();
      });
    case 'string':
      return [...(t.data as string[])];
    default:
      return Array.from(t.data as ArrayLike<number>);
  }
}

type TensorOrIssues = { tensor: Tensor } | { issues: ValidationIssue[] };

/** A JSON body as a tensor, within `limits` (its nesting was checked when the body was read). Plain in and out, so
 * an offload worker can run it. */
export function tensorFromJsonBody(body: Uint8Array, dtype: DType, limits: RequestLimits): TensorOrIssues {
  let value: unknown;
  if (body.byteLength > 0) {
    try {
      value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    } catch (err) {
      throw new TiffinError('BAD_REQUEST', `the body is not valid JSON: ${messageOf(err)}`);
    }
  }
  const result = tensorFromJson(value, dtype);
  if ('tensor' in result) {
    new TensorBudget(limits).addInput(dtype, result.tensor.shape);
    if (dtype === 'string') checkStrings(result.tensor.data as string[], limits, 'the tensor');
  }
  return result;
}

/** tensorFromJsonBody, in an offload worker for a body large enough to hold the event loop. */
export function readTensorJson(body: Buffer, dtype: DType, limits: RequestLimits): TensorOrIssues | Promise<TensorOrIssues> {
  if (body.byteLength < OFFLOAD_MIN_BYTES) return tensorFromJsonBody(body, dtype, limits);
  return offload<TensorOrIssues>(import.meta.url, 'tensorFromJsonBody', [body, dtype, limits]);
}
