// The body of one runner replica: a worker thread that loads the model from the store and runs the
// calls it is sent, one message at a time. A blocking session.run here stalls only this thread.
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { messageOf, TiffinError } from '../errors/index.ts';
import { Models } from '../models/index.ts';
import { ONNX_METHOD } from '../runtime/onnx.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { Model } from '../runtime/types.ts';
import { ModelStore } from '../store/index.ts';
import { serializeError, type FromReplica, type ReplicaInit, type ToReplica } from './messages.ts';
import { Gate } from './native-gate.ts';
import { transferablesOf } from './transfer.ts';

const port = parentPort!;
const init = workerData as ReplicaInit;
/** Every call into the model's code (load, run, dispose) goes through it, so a kill never lands inside one. */
const gate = new Gate(init.gate);

function send(message: FromReplica, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

async function load(): Promise<Model | undefined> {
  const started = performance.now();
  try {
    const model = await gate.run(() => new Models(new ModelStore(init.storeRoot)).load(init.tag, init.loadOptions));
    send({
      type: 'ready',
      model: { tag: model.tag, framework: model.framework, signatures: model.signatures, inputs: model.inputs, outputs: model.outputs },
      loadMs: performance.now() - started,
    });
    return model;
  } catch (err) {
    send({ type: 'load-failed', error: serializeError(err, 'MODEL_LOAD_FAILED') });
    port.close();
    return undefined;
  }
}

/**
 * Lowers this thread's CPU priority (raises its nice value) so that, when cores are scarce, the
 * event loop that serves HTTP and feeds the batches wins the CPU over inference. Linux only: there a
 * nice value belongs to a thread, which /proc/thread-self names; threads the model's runtime starts
 * later inherit it. Elsewhere, or if refused, the replica runs at normal priority.
 */
function lowerPriority(niceness: number): void {
  if (process.platform !== 'linux' || niceness <= 0) return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, niceness);
  } catch {
    // Not permitted or not supported: nothing to do.
  }
}

lowerPriority(init.niceness);
const model = await load();

if (model) {
  // onnxruntime allocates fresh output buffers on every run, so they can be moved to the caller.
  // A custom model may return buffers it keeps (a cached table), which must be copied instead.
  const transferOutputs = model.framework === 'onnx';

  const handle = async (msg: Extract<ToReplica, { type: 'call' }>): Promise<void> => {
    const started = performance.now();
    let output: unknown;
    try {
      output = await gate.run(() =>
        msg.method === ONNX_METHOD ? model.run(msg.input as Tensors, msg.outputs ? { outputs: msg.outputs } : {}) : model.call(msg.method, msg.input),
      );
    } catch (err) {
      send({ type: 'error', id: msg.id, error: serializeError(err, 'INFERENCE_FAILED') });
      return;
    }
    const runMs = performance.now() - started;
    try {
      send({ type: 'result', id: msg.id, output, runMs }, transferOutputs ? transferablesOf(output) : []);
    } catch (err) {
      const error = new TiffinError('INFERENCE_FAILED', `${model.tag}.${msg.method} returned a value that cannot leave its worker thread: ${messageOf(err)}`);
      send({ type: 'error', id: msg.id, error: serializeError(error, 'INFERENCE_FAILED') });
    }
  };

  port.on('message', (msg: ToReplica) => {
    if (msg.type === 'call') {
      void handle(msg);
    } else if (msg.type === 'stop') {
      // Release native resources (the onnxruntime session) before the thread ends.
      void gate.run(() => model.dispose()).catch(() => {}).finally(() => port.close());
    }
  });
}
