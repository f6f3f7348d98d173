// Tree ensembles: rows/s of Tiffin's native XGBoost/LightGBM scoring (src/runtime/trees: flat typed arrays, one
// loop over rows) against onnxruntime's TreeEnsembleRegressor (ai.onnx.ml opset 3) on the same trees, both in
// this thread, at batch 1 and batch 1000 (target: native >= 0.8x onnxruntime). The trees are generated here and
// written as an XGBoost JSON model; the ONNX graph uses BRANCH_LT on the same float32 thresholds, so both must
// agree on every row (checked before timing). Env: BENCH_TREES (300), BENCH_DEPTH (6), BENCH_FEATURES (30),
// BENCH_ROUNDS (5), BENCH_ORT_THREADS (1: one core each, like a runner replica).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Models } from '../src/models/index.ts';
import { attr, GraphBuilder, mulberry32 } from '../src/onnx/index.ts';
import { xgboostJson, type XgbTree } from '../src/runtime/trees/test-fixtures.ts';
import { onnxRuntimeVersion } from '../src/runtime/onnx.ts';
import type { Model } from '../src/runtime/types.ts';
import { ModelStore } from '../src/store/index.ts';
import { fixed, markdownTable } from './lib/table.ts';

const TREES = Number(process.env.BENCH_TREES ?? 300);
const DEPTH = Number(process.env.BENCH_DEPTH ?? 6);
const FEATURES = Number(process.env.BENCH_FEATURES ?? 30);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ORT_THREADS = Number(process.env.BENCH_ORT_THREADS ?? 1);
const BASE = 0.5;

const random = mulberry32(42);

/** A full tree of DEPTH levels of splits in XGBoost's breadth-first node order. */
function randomTree(): XgbTree {
  const splits = 2 ** DEPTH - 1;
  const nodes = 2 ** (DEPTH + 1) - 1;
  const t: XgbTree = { left_children: [], right_children: [], split_indices: [], split_conditions: [], default_left: [] };
  for (let i = 0; i < nodes; i++) {
    const split = i < splits;
    t.left_children.push(split ? 2 * i + 1 : -1);
    t.right_children.push(split ? 2 * i + 2 : -1);
    t.split_indices.push(split ? Math.floor(random() * FEATURES) : 0);
    t.split_conditions.push(Math.fround(split ? random() * 2 - 1 : (random() - 0.5) * 0.1));
    t.default_left.push(split && random() < 0.5 ? 1 : 0);
  }
  return t;
}

/** The same trees as an ONNX TreeEnsembleRegressor: x < threshold goes to the true (left) child. */
function onnxOf(trees: XgbTree[]): Uint8Array {
  const a = { treeIds: [] as number[], nodeIds: [] as number[], features: [] as number[], values: [] as number[], modes: [] as string[],
    trueIds: [] as number[], falseIds: [] as number[], missingTrue: [] as number[] };
  const w = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], values: [] as number[] };
  trees.forEach((t, treeId) => {
    t.left_children.forEach((left, i) => {
      const leaf = left === -1;
      a.treeIds.push(treeId); a.nodeIds.push(i);
      a.features.push(leaf ? 0 : t.split_indices[i]!); a.values.push(leaf ? 0 : t.split_conditions[i]!);
      a.modes.push(leaf ? 'LEAF' : 'BRANCH_LT');
      a.trueIds.push(leaf ? 0 : left); a.falseIds.push(leaf ? 0 : t.right_children[i]!);
      a.missingTrue.push(t.default_left[i]!);
      if (leaf) { w.treeIds.push(treeId); w.nodeIds.push(i); w.ids.push(0); w.values.push(t.split_conditions[i]!); }
    });
  });
  return new GraphBuilder('trees')
    .input('input', 'float32', [-1, FEATURES])
    .node('TreeEnsembleRegressor', ['input'], ['variable'], {
      nodes_treeids: attr.ints(a.treeIds), nodes_nodeids: attr.ints(a.nodeIds), nodes_featureids: attr.ints(a.features),
      nodes_values: attr.floats(a.values), nodes_modes: attr.strings(a.modes),
      nodes_truenodeids: attr.ints(a.trueIds), nodes_falsenodeids: attr.ints(a.falseIds),
      nodes_missing_value_tracks_true: attr.ints(a.missingTrue),
      target_treeids: attr.ints(w.treeIds), target_nodeids: attr.ints(w.nodeIds), target_ids: attr.ints(w.ids), target_weights: attr.floats(w.values),
      n_targets: 1, aggregate_function: 'SUM', base_values: attr.floats([BASE]), post_transform: 'NONE',
    }, { domain: 'ai.onnx.ml' })
    .output('variable', 'float32', [-1, 1])
    .build({ mlOpset: 3 });
}

function batchOf(rows: number): Float32Array {
  const x = new Float32Array(rows * FEATURES);
  for (let i = 0; i < x.length; i++) x[i] = random() < 0.02 ? NaN : random() * 2 - 1;
  return x;
}

async function nativeRun(model: Model, x: Float32Array, rows: number): Promise<Float32Array> {
  const out = await model.run({ input: { dtype: 'float32', shape: [rows, FEATURES], data: x } });
  return out.get('predictions', 'float32').data;
}

async function ortRun(session: ort.InferenceSession, x: Float32Array, rows: number): Promise<Float32Array> {
  const out = await session.run({ input: new ort.Tensor('float32', x, [rows, FEATURES]) });
  return out.variable!.data as Float32Array;
}

/**
 * Rows per second of `run` on batches of `rows`, for about `ms` milliseconds: by the wall clock, and per second
 * of this process's CPU time (user + system, all threads), which other work on a shared machine disturbs less.
 */
async function rowsPerSecond(run: (x: Float32Array, rows: number) => Promise<unknown>, inputs: Float32Array[], rows: number, ms: number): Promise<{ wall: number; cpu: number }> {
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    for (const x of inputs) await run(x, rows);
    done += inputs.length * rows;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { wall: done / wall, cpu: done / ((cpu.user + cpu.system) / 1e6) };
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const dir = mkdtempSync(join(tmpdir(), 'bench-trees-'));
try {
  const trees = Array.from({ length: TREES }, randomTree);
  writeFileSync(join(dir, 'model.json'), xgboostJson({ objective: 'reg:squarederror', numFeature: FEATURES, baseScore: String(BASE), trees }));
  const models = new Models(new ModelStore(join(dir, 'store')));
  await models.save('trees', join(dir, 'model.json'), { framework: 'xgboost' });
  const native = await models.load('trees');
  const session = await ort.InferenceSession.create(onnxOf(trees), { intraOpNumThreads: ORT_THREADS, interOpNumThreads: 1, executionProviders: ['cpu'] });

  // Same answers first: a speed comparison of different computations would mean nothing.
  const check = batchOf(2000);
  const [a, b] = [await nativeRun(native, check, 2000), await ortRun(session, check, 2000)];
  let worst = 0;
  for (let i = 0; i < 2000; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  if (!(worst < 1e-4)) throw new Error(`native and onnxruntime disagree by up to ${worst}`);
  console.log(`${TREES} trees, depth ${DEPTH}, ${FEATURES} features (2% NaN inputs); answers agree on 2000 rows (max |diff| ${worst.toExponential(1)})`);

  const results: string[][] = [];
  for (const rows of [1, 1000]) {
    const inputs = Array.from({ length: rows === 1 ? 256 : 8 }, () => batchOf(rows));
    const nat: { wall: number; cpu: number }[] = [];
    const onnx: { wall: number; cpu: number }[] = [];
    await rowsPerSecond((x, r) => nativeRun(native, x, r), inputs, rows, 300); // warm-up (JIT)
    await rowsPerSecond((x, r) => ortRun(session, x, r), inputs, rows, 300);
    for (let round = 0; round < ROUNDS; round++) {
      nat.push(await rowsPerSecond((x, r) => nativeRun(native, x, r), inputs, rows, 1000));
      onnx.push(await rowsPerSecond((x, r) => ortRun(session, x, r), inputs, rows, 1000));
    }
    const ratios = nat.map((n, i) => n.wall / onnx[i]!.wall);
    const cpuRatios = nat.map((n, i) => n.cpu / onnx[i]!.cpu);
    results.push([
      String(rows), fixed(median(nat.map((n) => n.wall)), 0), fixed(median(onnx.map((n) => n.wall)), 0), fixed(median(ratios), 2),
      ratios.map((r) => r.toFixed(2)).join(', '), fixed(median(cpuRatios), 2),
    ]);
  }
  console.log(`\nonnxruntime-node ${onnxRuntimeVersion()}, intraOpNumThreads ${ORT_THREADS}; medians of ${ROUNDS} interleaved rounds of 1 s\n`);
  console.log(markdownTable(['batch', 'native rows/s', 'onnxruntime rows/s', 'native / ort', 'per round', 'per CPU second: native / ort'], results));
  await native.dispose();
  await session.release();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
