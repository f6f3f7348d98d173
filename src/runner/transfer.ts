// Zero-copy hand-over of tensors between threads: the ArrayBuffers behind tensor data go in the
// postMessage transfer list (moved, not copied). Only a buffer that a typed array owns whole can be
// moved; a view into a larger buffer (a Buffer from Node's pool, a slice of a batch) is copied by
// structured clone instead, once, so moving it never destroys data someone else still uses.
import { isTensor } from '../batching/tensor-batch.ts';

/**
 * Below this size copying is cheaper than moving: V8 keeps small typed arrays inside the JS heap, and
 * asking for their `.buffer` (to transfer it) costs more than cloning a few hundred bytes.
 */
export const MIN_TRANSFER_BYTES = 4096;

function addOwnedBuffer(found: Set<ArrayBuffer>, data: unknown): void {
  if (!ArrayBuffer.isView(data) || data.byteLength < MIN_TRANSFER_BYTES || data.byteOffset !== 0) return;
  const buffer = data.buffer;
  // A SharedArrayBuffer is already shared, never moved.
  if (buffer instanceof ArrayBuffer && data.byteLength === buffer.byteLength) found.add(buffer);
}

/** Buffers to transfer with `value`: the data of a tensor, of each tensor in a named map, or a typed array. */
export function transferablesOf(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  if (ArrayBuffer.isView(value)) {
    addOwnedBuffer(found, value);
  } else if (isTensor(value)) {
    addOwnedBuffer(found, value.data);
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const v of Object.values(value)) if (isTensor(v)) addOwnedBuffer(found, v.data);
  }
  return found.size === 0 ? [] : [...found];
}

/** True when typed-array data was moved to another thread by an earlier call (its buffer is detached). */
export function isDetached(data: unknown): boolean {
  return ArrayBuffer.isView(data) && data.byteLength === 0 && data.buffer.byteLength === 0;
}
