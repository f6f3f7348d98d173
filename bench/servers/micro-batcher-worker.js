// The micro-batcher's one worker thread: an onnxruntime session that runs each batch it is sent and
// moves the output back. Plain JS, since worker threads do not inherit tsx.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const ort = createRequire(import.meta.url)('onnxruntime-node');
const session = await ort.InferenceSession.create(workerData.model, {
  executionProviders: ['cpu'],
  intraOpNumThreads: workerData.threads,
  interOpNumThreads: 1,
});
parentPort.on('message', async ({ data, rows }) => {
  const out = (await session.run({ input: new ort.Tensor('float32', data, [rows, data.length / rows]) })).output.data;
  parentPort.postMessage(out, [out.buffer]);
});
parentPort.postMessage('ready');
