// What a runner costs per call compared with running the model in-process: the hop to a worker
// thread and back, the dispatcher, and moving (or copying) the tensors. Run: npx tsx bench/runner-overhead.ts
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Models } from '../src/models/index.ts';
import { identity } from '../src/onnx/index.ts';
import type { ModelHandle } from '../src/runtime/types.ts';
import { RunnerPool } from '../src/runner/index.ts';
import { ModelStore } from '../src/store/index.ts';

const SMALL = 4; // floats per row: 16 bytes
const LARGE = 262_144; // floats per row: 1 MiB
const ROUNDS = 7;

function feeds(width: number) {
  return { input: { dtype: 'float32' as const, shape: [1, width], data: new Float32Array(width).fill(1) } };
}

/** Microseconds per call, one call at a time (the latency a single connection sees). */
async function sequential(handle: ModelHandle, width: number, calls: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await handle.run(feeds(width));
  return ((performance.now() - t0) * 1000) / calls;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Runs every case in turn, ROUNDS times (so that machine noise spreads evenly), and keeps each case's median. */
async function interleaved(cases: [string, () => Promise<number>][]): Promise<[string, number][]> {
  const results = cases.map(() => [] as number[]);
  for (const [, run] of cases) await run(); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, [, run]] of cases.entries()) results[i]!.push(await run());
  }
  return cases.map(([name], i) => [name, median(results[i]!)]);
}

/** Calls per second with `concurrency` callers, each waiting for its answer before the next call. */
async function throughput(handle: ModelHandle, concurrency: number, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let done = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await handle.run(feeds(SMALL));
      done++;
    }
  }));
  return (done * 1000) / ms;
}

/** A bare worker that echoes messages back, moving the buffer: the floor under any thread hop. */
function echoWorker(): { roundTrip(calls: number): Promise<number>; close(): Promise<number> } {
  const worker = new Worker(
    "require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m, [m.buffer]))",
    { eval: true },
  );
  return {
    async roundTrip(calls) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) {
        const back = new Promise((resolve) => worker.once('message', resolve));
        const data = new Float32Array(SMALL);
        worker.postMessage(data, [data.buffer]);
        await back;
      }
      return ((performance.now() - t0) * 1000) / calls;
    },
    close: () => worker.terminate(),
  };
}

const dir = await mkdtemp(join(tmpdir(), 'tiffin-bench-'));
try {
  const models = new Models(new ModelStore(join(dir, 'store')));
  for (const [name, width] of [['small', SMALL], ['large', LARGE]] as const) {
    const file = join(dir, `${name}.onnx`);
    await writeFile(file, identity({ dtype: 'float32', shape: [-1, width] }));
    await models.save(`${name}:1`, file, { framework: 'onnx', batchable: true });
    await models.save(`${name}-unbatched:1`, file, { framework: 'onnx', batchable: false });
  }
  const root = join(dir, 'store');
  const inProcess = { small: await models.load('small:1'), large: await models.load('large:1') };
  const start = (tag: string, extra: Partial<Parameters<typeof RunnerPool.start>[0]> = {}) => RunnerPool.start({ tag, storeRoot: root, replicas: 1, ...extra });
  const runners = {
    small: await start('small:1'),
    smallUnbatched: await start('small-unbatched:1'),
    large: await start('large:1'),
    largeCopied: await start('large:1', { transferInputs: false }),
  };

  console.log(`Node ${process.version}, ${availableParallelism()} cores; identity model, one call at a time (µs per call)`);
  const echo = echoWorker();
  const replica = runners.smallUnbatched.replicas[0]!;
  const rows = await interleaved([
    ['bare worker postMessage round trip', () => echo.roundTrip(1000)],
    ['in-process Model.run, 16 B', () => sequential(inProcess.small, SMALL, 1000)],
    ['one replica, no dispatcher, 16 B', async () => {
      const calls = 1000;
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) await replica.call('run', feeds(SMALL));
      return ((performance.now() - t0) * 1000) / calls;
    }],
    ['runner, batchable method, 16 B', () => sequential(runners.small, SMALL, 1000)],
    ['runner, unbatched method, 16 B', () => sequential(runners.smallUnbatched, SMALL, 1000)],
    ['in-process Model.run, 1 MiB', () => sequential(inProcess.large, LARGE, 100)],
    ['runner, 1 MiB, buffers transferred', () => sequential(runners.large, LARGE, 100)],
    ['runner, 1 MiB, transferInputs: false', () => sequential(runners.largeCopied, LARGE, 100)],
  ]);
  for (const [what, us] of rows) console.log(`${what.padEnd(40)} ${us.toFixed(1).padStart(8)} µs`);
  const us = Object.fromEntries(rows);
  const base = us['in-process Model.run, 16 B']!;
  console.log(`overhead of a runner call (16 B): ${(us['runner, batchable method, 16 B']! - base).toFixed(1)} µs batchable, ${(us['runner, unbatched method, 16 B']! - base).toFixed(1)} µs unbatched`);
  await echo.close();

  console.log('\n64 concurrent callers, 16 B model, calls per second');
  const wide = await start('small:1', { replicas: availableParallelism() });
  const wideUnbatched = await start('small-unbatched:1', { replicas: availableParallelism() });
  console.log(`${'in-process (event loop)'.padEnd(40)} ${(await throughput(inProcess.small, 64, 2000)).toFixed(0).padStart(8)}`);
  console.log(`${'runner, batched'.padEnd(40)} ${(await throughput(wide, 64, 2000)).toFixed(0).padStart(8)}`);
  console.log(`${'runner, unbatched'.padEnd(40)} ${(await throughput(wideUnbatched, 64, 2000)).toFixed(0).padStart(8)}`);
  const b = wide.stats().methods.run!.batchSize;
  console.log(`mean batch ${(b.sum / b.count).toFixed(1)} rows`);

  await Promise.all([...Object.values(runners), wide, wideUnbatched].map((r) => r.close()));
  await Promise.all(Object.values(inProcess).map((m) => m.dispose()));
} finally {
  await rm(dir, { recursive: true, force: true });
}
