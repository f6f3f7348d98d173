// Owns: running pure, CPU-heavy functions (decoding and encoding large JSON tensor bodies) on a small pool of worker
// threads, so that one large request does not hold the event loop (and with it probes and every other request) for
// the hundreds of milliseconds a 30 MB JSON body takes. Small bodies stay on the event loop: a hand-off costs more.
import { availableParallelism } from 'node:os';
import { OffloadPool } from './offload-pool.ts';

export { OffloadPool } from './offload-pool.ts';

/**
 * Bodies of at least this many bytes are decoded off the event loop. JSON tensors decode at about 30 MB/s on a
 * small VM, so this bounds what one request holds the loop for to about 10 ms; a hand-off costs about 0.2 ms.
 */
export const OFFLOAD_MIN_BYTES = 256 * 1024;

/** Tensor elements from which a JSON answer is encoded off the event loop (about the same cost as the bodies above). */
export const OFFLOAD_MIN_ELEMENTS = 64 * 1024;

// One pool per process, as libuv has one thread pool: its threads are shared by every server in it. One thread on a
// 2-core machine (the runner replicas need the other), at most 4.
let shared: OffloadPool | undefined;

/**
 * Calls export `fn` of `moduleUrl` (pass the caller's `import.meta.url`) with `args` in the shared pool. Buffers in
 * `transfer` move to the worker instead of being copied (the caller's views of them are emptied).
 */
export function offload<T>(moduleUrl: string, fn: string, args: readonly unknown[], transfer: readonly ArrayBuffer[] = []): Promise<T> {
  shared ??= new OffloadPool(Math.max(1, Math.min(4, availableParallelism() - 1)));
  return shared.run<T>(moduleUrl, fn, args, transfer);
}

/** `bytes`' buffer when they own all of it, so it can be transferred; a slice of a bigger (or pooled) buffer is not. */
export function ownBuffer(bytes: Uint8Array): ArrayBuffer[] {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? [buffer] : [];
}

/** A tensor as plain fields only, for a task's arguments: a runner's result may carry more than can be cloned. */
export function plainTensor<T extends { dtype: unknown; shape: unknown; data: unknown }>(t: T): T {
  return { dtype: t.dtype, shape: t.shape, data: t.data } as T;
}

/** Bytes a worker sent back (a Uint8Array after the transfer) as a Buffer over the same memory. */
export function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
