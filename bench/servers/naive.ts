// (a) The "web framework" baseline: fastify calling onnxruntime's session.run for every request on the
// event loop, as a plain web app would. Env: BENCH_MODEL (the .onnx file), BENCH_THREADS (intra-op), PORT.
import Fastify from 'fastify';
import * as ort from 'onnxruntime-node';
import { WIDTH } from '../lib/model.ts';

const session = await ort.InferenceSession.create(process.env.BENCH_MODEL!, {
  executionProviders: ['cpu'],
  intraOpNumThreads: Number(process.env.BENCH_THREADS ?? 1),
  interOpNumThreads: 1,
});

function isRow(value: unknown): value is number[] {
  return Array.isArray(value) && value.length === WIDTH && value.every((v) => typeof v === 'number');
}

const app = Fastify();
app.get('/readyz', async () => ({ status: 'ready' }));
app.post('/predict', async (request, reply) => {
  const input = (request.body as { input?: unknown } | null)?.input;
  if (!isRow(input)) return reply.code(400).send({ error: `input must be ${WIDTH} numbers` });
  const out = await session.run({ input: new ort.Tensor('float32', Float32Array.from(input), [1, WIDTH]) });
  return { output: Array.from(out.output!.data as Float32Array) };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
