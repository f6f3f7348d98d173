// Offline batch inference: rows/s of runJob (the engine of `tiffin run`: each row through the API's invoke path,
// runners and adaptive batching) against raw in-process onnxruntime session.run at its best batch size, same model.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import * as ort from 'onnxruntime-node';
import { Models } from '../src/models/index.ts';
import { openService, runJob } from '../src/offline/index.ts';
import { linearRegression } from '../src/onnx/index.ts';
import { ModelStore } from '../src/store/index.ts';

const ROWS = 50_000;
const dir = mkdtempSync(join(tmpdir(), 'bench-offline-'));
const model = linearRegression({ weights: [[2], [3]], bias: [1] });
writeFileSync(join(dir, 'lin.onnx'), model);
process.env.TIFFIN_HOME = join(dir, 'home');
await new Models(new ModelStore(join(dir, 'home/models'))).save('lin', join(dir, 'lin.onnx'), { framework: 'onnx', batchable: true });
writeFileSync(join(dir, 'rows.jsonl'), Array.from({ length: ROWS }, (_, i) => JSON.stringify({ a: i % 100, b: i % 13 })).join('\n'));

const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1 });
let best = { batch: 0, rps: 0 };
for (const batch of [1, 32, 256, 1024]) {
  const t0 = performance.now();
  for (let done = 0; done < ROWS; done += batch) await session.run({ input: new ort.Tensor('float32', new Float32Array(batch * 2), [batch, 2]) });
  const rps = ROWS / ((performance.now() - t0) / 1000);
  console.log(`raw session.run batch ${String(batch).padStart(4)}: ${rps.toFixed(0)} rows/s`);
  if (rps > best.rps) best = { batch, rps };
}

const log = pino({ level: 'warn' });
const opened = await openService(new URL('../test/offline/fixtures/linear-service.ts', import.meta.url).pathname, log, () => {});
const summary = await runJob({
  svc: opened.svc, serviceId: opened.id, api: 'predict', input: join(dir, 'rows.jsonl'), inputFormat: 'jsonl', output: join(dir, 'out.jsonl'),
  outputFormat: 'jsonl', errors: join(dir, 'errors.jsonl'), concurrency: 256, restart: true, models: opened.models, log,
});
await opened.close();
console.log(`tiffin run (in process, concurrency 256): ${summary.rowsPerSecond.toFixed(0)} rows/s (${summary.ok} ok, ${summary.failed} failed)`);
console.log(`ratio tiffin run / raw session.run at batch ${best.batch}: ${(summary.rowsPerSecond / best.rps).toFixed(2)}x`);
process.exit(0);
