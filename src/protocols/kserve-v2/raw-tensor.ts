// Raw tensor bytes as the V2 protocol defines them (REST binary extension and gRPC raw contents alike):
// little-endian, row-major, no padding; BOOL one byte per element; BYTES each element a 4-byte
// little-endian length then its bytes. BYTES elements become JS strings (UTF-8), as string tensors are.
import { endianness } from 'node:os';
import { TiffinError } from '../../errors/index.ts';
import { allocData, bytesPerElement, elementCount, type DType, type Tensor } from '../../runtime/tensor.ts';

// Typed arrays use the host's byte order; every platform Node ships for is little-endian.
if (endianness() !== 'LE') throw new Error('Tiffin protocol adapters need a little-endian host');

const utf8 = new TextEncoder();

/** Decodes one tensor's raw bytes; TENSOR_INVALID when the byte count does not fit dtype and shape. */
export function tensorFromRaw(dtype: DType, shape: number[], bytes: Uint8Array, where: string): Tensor {
  const n = elementCount(shape);
  if (dtype === 'string') return { dtype, shape, data: bytesElements(bytes, n, where) };
  const width = bytesPerElement(dtype);
  if (bytes.byteLength !== n * width) {
    throw new TiffinError('TENSOR_INVALID', `${where}: shape [${shape.join(', ')}] of ${dtype} needs ${n * width} bytes, got ${bytes.byteLength}`);
  }
  // Copied into a fresh buffer: request bodies may sit unaligned inside Node's shared pool.
  const data = allocData(dtype, n);
  new Uint8Array(data.buffer, 0, bytes.byteLength).set(bytes);
  if (dtype === 'bool') {
    const b = data as Uint8Array;
    for (let i = 0; i < n; i++) if (b[i]! > 1) b[i] = 1;
  }
  return { dtype, shape, data };
}

function bytesElements(bytes: Uint8Array, n: number, where: string): string[] {
  const out = new Array<string>(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8');
  let at = 0;
  for (let i = 0; i < n; i++) {
    if (at + 4 > bytes.byteLength) {
      throw new TiffinError('TENSOR_INVALID', `${where}: BYTES data ends after ${i} of ${n} elements (each needs a 4-byte length prefix)`);
    }
    const len = view.getUint32(at, true);
    at += 4;
    if (at + len > bytes.byteLength) {
      throw new TiffinError('TENSOR_INVALID', `${where}: BYTES element ${i} claims ${len} bytes, only ${bytes.byteLength - at} remain`);
    }
    out[i] = decoder.decode(bytes.subarray(at, at + len));
    at += len;
  }
  if (at !== bytes.byteLength) {
    throw new TiffinError('TENSOR_INVALID', `${where}: ${bytes.byteLength - at} bytes left over after ${n} BYTES elements`);
  }
  return out;
}

/** The tensor's raw bytes; a view over its own memory when it has a fixed width (no copy). */
export function tensorToRaw(t: Tensor): Uint8Array {
  if (t.dtype !== 'string') {
    const d = t.data as Exclude<Tensor['data'], string[]>;
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  }
  const encoded = (t.data as string[]).map((s) => utf8.encode(s));
  const out = new Uint8Array(encoded.reduce((sum, e) => sum + 4 + e.byteLength, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const e of encoded) {
    view.setUint32(at, e.byteLength, true);
    out.set(e, at + 4);
    at += 4 + e.byteLength;
  }
  return out;
}
