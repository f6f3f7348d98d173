// `tiffin run` beyond CSV and JSONL services: a Parquet input (several row groups, 64-bit and null cells) and a
// service that depends on another service, which the run starts itself. Run from source, as a person runs it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { Models } from '../../src/models/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { ModelStore } from '../../src/store/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/offline/fixtures');
const CLI = ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'run'];

async function setup(t: TestContext): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-run-formats-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'lin.onnx'), linearRegression({ weights: [[2], [3]], bias: [1] }));
  await new Models(new ModelStore(join(dir, 'home/models'))).save('lin', join(dir, 'lin.onnx'), { framework: 'onnx', batchable: true });
  return { dir, env: { ...process.env, TIFFIN_HOME: join(dir, 'home') } };
}

function outputs(file: string): { row: number; output: Record<string, number> }[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: number; output: Record<string, number> });
}

test('a Parquet input: every row of every row group, 64-bit integers as numbers, null cells left out', async (t) => {
  const { dir, env } = await setup(t);
  const n = 2_500;
  const a = Array.from({ length: n }, (_, i) => BigInt(i % 50));
  // Every 500th b is null: the API requires b, so those rows fail validation and go to the errors file.
  const b = Array.from({ length: n }, (_, i) => (i % 500 === 499 ? null : (i * 7) % 13));
  const buffer = parquetWriteBuffer({ columnData: [{ name: 'a', data: a, type: 'INT64' }, { name: 'b', data: b, type: 'DOUBLE' }], rowGroupSize: 1_000 });
  writeFileSync(join(dir, 'rows.parquet'), Buffer.from(buffer));
  const run = spawnSync(process.execPath, [...CLI, join(FIXTURES, 'linear-service.ts'), '--api', 'predict', '--input', join(dir, 'rows.parquet')], { env, encoding: 'utf8' });
  assert.equal(run.status, 4, run.stderr);
  const out = outputs(join(dir, 'rows.out.jsonl'));
  const expected = [...Array(n).keys()].filter((i) => i % 500 !== 499);
  assert.deepEqual(out.map((o) => o.row), expected.map((i) => i + 1));
  for (const { row, output } of out) assert.equal(output.y, 2 * ((row - 1) % 50) + 3 * (((row - 1) * 7) % 13) + 1);
  const errors = readFileSync(join(dir, 'rows.out.jsonl.errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: number; code: string });
  assert.deepEqual(errors.map((e) => [e.row, e.code]), [500, 1000, 1500, 2000, 2500].map((r) => [r, 'VALIDATION_FAILED']));

  writeFileSync(join(dir, 'bad.parquet'), 'PAR1 this is not parquet');
  const bad = spawnSync(process.execPath, [...CLI, join(FIXTURES, 'linear-service.ts'), '--api', 'predict', '--input', join(dir, 'bad.parquet')], { env, encoding: 'utf8' });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /bad\.parquet is not a Parquet file that can be read/);
});

test('a service that depends on another: tiffin run starts the dependency and every row goes through it', async (t) => {
  const { dir, env } = await setup(t);
  writeFileSync(join(dir, 'rows.jsonl'), `${Array.from({ length: 300 }, (_, i) => JSON.stringify({ a: i, b: 1 })).join('\n')}\n`);
  const run = spawnSync(process.execPath, [...CLI, join(FIXTURES, 'depends-service.ts'), '--api', 'scaled', '--input', join(dir, 'rows.jsonl'), '--json'], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout) as { ok: number; failed: number };
  assert.deepEqual([summary.ok, summary.failed], [300, 0]);
  for (const { row, output } of outputs(join(dir, 'rows.out.jsonl'))) assert.deepEqual(output, { y: 2 * (row - 1) + 4, scaled: (2 * (row - 1) + 4) * 10 });
});
