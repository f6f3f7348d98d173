// An offload worker: imports the module a task names (once), calls the named export with the task's arguments and
// posts back its value, transferring the ArrayBuffers of the typed arrays in it instead of copying them. Plain
// JavaScript so dist/ needs no build step for it; tsx is registered only when a task names a .ts source module.
import { parentPort } from 'node:worker_threads';

const modules = new Map();
let tsxRegistered = false;

async function load(url) {
  let mod = modules.get(url);
  if (!mod) {
    if (url.endsWith('.ts') && !tsxRegistered) {
      const { register } = await import('tsx/esm/api');
      register();
      tsxRegistered = true;
    }
    mod = import(url);
    modules.set(url, mod);
  }
  return mod;
}

/** ArrayBuffers that a typed array in `value` owns whole (a view of part of a buffer is copied instead: the rest of
 * that buffer may be another value's, or a pooled slab). Walks a few levels: tensors sit at most that deep. */
function collect(value, out, depth) {
  if (depth > 6 || value === null || typeof value !== 'object') return;
  if (ArrayBuffer.isView(value)) {
    const buffer = value.buffer;
    if (buffer instanceof ArrayBuffer && value.byteOffset === 0 && value.byteLength === buffer.byteLength) out.add(buffer);
    return;
  }
  if (Array.isArray(value)) {
    // A list of numbers or strings holds no buffers; only look inside lists of objects.
    if (value.length > 0 && typeof value[0] !== 'object') return;
    for (const item of value) collect(item, out, depth + 1);
    return;
  }
  for (const key in value) collect(value[key], out, depth + 1);
}

parentPort.on('message', async ({ id, module, fn, args }) => {
  try {
    const mod = await load(module);
    const value = await mod[fn](...args);
    const transfer = new Set();
    collect(value, transfer, 0);
    parentPort.postMessage({ id, ok: true, value }, [...transfer]);
  } catch (err) {
    const e = err ?? {};
    parentPort.postMessage({
      id,
      ok: false,
      error: { name: e.name, code: e.code, message: e.message ?? String(err), details: e.details, status: e.status },
    });
  }
});
