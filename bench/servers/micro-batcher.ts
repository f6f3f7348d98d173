// (b) A minimal hand-written micro-batcher, the ceiling of this HTTP stack: rows wait until 32 are
// queued or the oldest has waited 2 ms, then run as one batch in a single worker thread, one batch at a
// time. Env: BENCH_MODEL, BENCH_THREADS (intra-op threads of the worker's session), PORT.
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import Fastify from 'fastify';
import { WIDTH } from '../lib/model.ts';

const MAX_ROWS = 32;
const MAX_WAIT_MS = 2;

interface Waiting {
  row: Float32Array;
  at: number;
  resolve(output: number[]): void;
}

const worker = new Worker(new URL('./micro-batcher-worker.js', import.meta.url), {
  workerData: { model: process.env.BENCH_MODEL, threads: Number(process.env.BENCH_THREADS ?? 1) },
});
await once(worker, 'message');

let queue: Waiting[] = [];
let running: Waiting[] = [];
let timer: NodeJS.Timeout | undefined;

/** Sends a batch when the worker is free and one is due; otherwise waits for the oldest row's deadline. */
function maybeSend(): void {
  clearTimeout(timer);
  timer = undefined;
  if (running.length > 0 || queue.length === 0) return;
  const wait = queue[0]!.at + MAX_WAIT_MS - performance.now();
  if (queue.length < MAX_ROWS && wait > 0) {
    timer = setTimeout(maybeSend, wait);
    return;
  }
  running = queue.slice(0, MAX_ROWS);
  queue = queue.slice(MAX_ROWS);
  const data = new Float32Array(running.length * WIDTH);
  running.forEach((w, i) => data.set(w.row, i * WIDTH));
  worker.postMessage({ data, rows: running.length }, [data.buffer]);
}

worker.on('message', (out: Float32Array) => {
  const width = out.length / running.length;
  running.forEach((w, i) => w.resolve(Array.from(out.subarray(i * width, (i + 1) * width))));
  running = [];
  maybeSend();
});

const app = Fastify();
app.get('/readyz', async () => ({ status: 'ready' }));
app.post('/predict', async (request, reply) => {
  const input = (request.body as { input?: unknown } | null)?.input;
  if (!Array.isArray(input) || input.length !== WIDTH || !input.every((v) => typeof v === 'number')) {
    return reply.code(400).send({ error: `input must be ${WIDTH} numbers` });
  }
  const output = await new Promise<number[]>((resolve) => {
    queue.push({ row: Float32Array.from(input), at: performance.now(), resolve });
    if (running.length === 0 && (queue.length >= MAX_ROWS || !timer)) maybeSend();
  });
  return { output };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
