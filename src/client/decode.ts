// How the client reads a successful response, judged by its headers: tensors (x-tensor-dtype, binary or
// JSON), JSON, text, or anything else as a Blob (a File when the server named the file).
import { toBFloat16Bits, toFloat16Bits } from '../runtime/half.ts';
import type { DType, Tensor } from '../runtime/tensor.ts';
import { ClientError } from './client-error.ts';

type NumericCtor = new (buffer: ArrayBuffer) => ArrayLike<number> | ArrayLike<bigint>;

const BINARY_CTORS: Partial<Record<DType, NumericCtor>> = {
  float16: Uint16Array, bfloat16: Uint16Array, float32: Float32Array, float64: Float64Array,
  int8: Int8Array, int16: Int16Array, int32: Int32Array, int64: BigInt64Array,
  uint8: Uint8Array, uint16: Uint16Array, uint32: Uint32Array, uint64: BigUint64Array, bool: Uint8Array,
};

function mediaTypeOf(res: Response): string {
  return (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function shapeOf(header: string | null): number[] {
  return header === null || header.trim() === '' ? [] : header.split(',').map((d) => Number(d.trim()));
}

/** Typed data from JSON elements (the server's JSON form of a tensor). */
function dataFromJson(dtype: DType, values: unknown[]): Tensor['data'] {
  switch (dtype) {
    case 'string':
      return values.map(String);
    case 'bool':
      return Uint8Array.from(values, (v) => (v ? 1 : 0));
    case 'int64':
      return BigInt64Array.from(values, (v) => BigInt(v as number | string));
    case 'uint64':
      return BigUint64Array.from(values, (v) => BigInt(v as number | string));
    case 'float16':
      return Uint16Array.from(values, (v) => toFloat16Bits(Number(v)));
    case 'bfloat16':
      return Uint16Array.from(values, (v) => toBFloat16Bits(Number(v)));
    default: {
      const Ctor = BINARY_CTORS[dtype] as unknown as { from(values: ArrayLike<number>): Tensor['data'] };
      return Ctor.from(values.map(Number));
    }
  }
}

async function decodeTensor(res: Response, dtypeHeader: string): Promise<Tensor> {
  const dtype = dtypeHeader as DType;
  const shape = shapeOf(res.headers.get('x-tensor-shape'));
  if (mediaTypeOf(res) === 'application/octet-stream') {
    const Ctor = BINARY_CTORS[dtype];
    if (!Ctor) throw new ClientError(res.status, 'BAD_RESPONSE', `the server sent a binary tensor of unknown dtype "${dtypeHeader}"`);
    // A fresh ArrayBuffer from arrayBuffer() is aligned for every element width.
    return { dtype, shape, data: new Ctor(await res.arrayBuffer()) as Tensor['data'] };
  }
  const body = (await res.json()) as { dtype?: string; shape?: number[]; data?: unknown[] };
  if (!Array.isArray(body.data)) throw new ClientError(res.status, 'BAD_RESPONSE', 'the server sent a tensor without data');
  return { dtype, shape: body.shape ?? shape, data: dataFromJson(dtype, body.data) };
}

function filenameOf(res: Response): string | undefined {
  const header = res.headers.get('content-disposition');
  if (!header) return undefined;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star?.[1]) return decodeURIComponent(star[1].trim());
  return /filename\s*=\s*"?([^";]+)"?/i.exec(header)?.[1];
}

export async function decodeResponse(res: Response): Promise<unknown> {
  const dtype = res.headers.get('x-tensor-dtype');
  if (dtype !== null) return decodeTensor(res, dtype);
  const type = mediaTypeOf(res);
  // A Content-Disposition marks a file (file outputs always send one), whatever its type.
  const isFile = res.headers.has('content-disposition');
  if (!isFile && (type === 'application/json' || type.endsWith('+json'))) return res.json();
  if (!isFile && type.startsWith('text/')) return res.text();
  const blob = await res.blob();
  const filename = filenameOf(res);
  return filename !== undefined && typeof File !== 'undefined' ? new File([blob], filename, { type: blob.type }) : blob;
}
