// (d) Diagnostic, not a target: Tiffin's runner with its defaults (replicas, adaptive batching) behind a
// bare fastify route, without Tiffin's server and service layers. Set beside (b) and (c), it tells how much
// of the gap to the minimal micro-batcher is the runner and how much the layers above it.
// Env: TIFFIN_HOME (the store), PORT.
import Fastify from 'fastify';
import { RunnerPool } from '../../src/runner/index.ts';
import { tensor } from '../../src/runtime/tensor.ts';
import { defaultStoreRoot } from '../../src/store/index.ts';
import { MODEL_NAME, WIDTH } from '../lib/model.ts';

const runner = await RunnerPool.start({ tag: MODEL_NAME, storeRoot: defaultStoreRoot() });
const app = Fastify();
app.get('/readyz', async () => ({ status: 'ready' }));
app.post('/predict', async (request, reply) => {
  const input = (request.body as { input?: unknown } | null)?.input;
  if (!Array.isArray(input) || input.length !== WIDTH || !input.every((v) => typeof v === 'number')) {
    return reply.code(400).send({ error: `input must be ${WIDTH} numbers` });
  }
  const out = await runner.run({ input: tensor('float32', [1, WIDTH], Float32Array.from(input)) });
  return { output: Array.from(out.output!.data as Float32Array) };
});
await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
