// `npm run demo`: train the Iris classifier, write it as ONNX, save it to the model store, and serve it.
// Every step uses the public pieces a user would: the ONNX writer, the models API and `tiffin serve`.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { models } from '../../src/index.ts';
import { logisticRegression, writeModel } from '../../src/onnx/index.ts';
import { loadIris, train } from './train.ts';

const port = process.env.PORT ?? '3000';
const root = fileURLToPath(new URL('../../', import.meta.url));

const data = await loadIris();
const trained = train(data);
console.log(`trained logistic regression on ${data.x.length} flowers: ${(trained.accuracy * 100).toFixed(1)}% accuracy`);

const work = await mkdtemp(join(tmpdir(), 'tiffin-iris-'));
const file = join(work, 'iris.onnx');
await writeModel(file, logisticRegression({ weights: trained.weights, bias: trained.bias }));
const manifest = await models.save('iris', file, {
  framework: 'onnx',
  batchable: true,
  labels: { example: 'iris' },
  metadata: { accuracy: trained.accuracy, classes: trained.classes, trainedOn: 'examples/iris/iris.csv' },
});
await rm(work, { recursive: true, force: true });
console.log(`saved ${manifest.name}:${manifest.version} to ${models.store.root}`);

const server = spawn(process.execPath, [join(root, 'bin/tiffin.js'), 'serve', join(root, 'examples/iris/service.ts'), '--port', port], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
server.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  if (chunk.toString().includes('ready at')) {
    console.log(`\nTry it:\n  curl -s localhost:${port}/classify -H 'content-type: application/json' \\\n    -d '{"sepal_length":5.9,"sepal_width":3.0,"petal_length":5.1,"petal_width":1.8}'\n`);
    console.log(`Docs: http://localhost:${port}/docs   Stop: Ctrl-C`);
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 0));
