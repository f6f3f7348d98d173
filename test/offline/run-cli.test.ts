// `tiffin run` as a person runs it (node bin/tiffin.js, built dist): 20,000 JSONL rows with bad ones, CSV in and out,
// and a job SIGKILLed mid-way then run again, which must end with every row exactly once, in order and correct.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Models } from '../../src/models/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { ModelStore } from '../../src/store/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = join(ROOT, 'test/offline/fixtures/linear-service.ts');
const ROWS = 20_000;

async function setup(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-run-'));
  writeFileSync(join(dir, 'lin.onnx'), linearRegression({ weights: [[2], [3]], bias: [1] }));
  await new Models(new ModelStore(join(dir, 'home/models'))).save('lin', join(dir, 'lin.onnx'), { framework: 'onnx', batchable: true });
  const lines: string[] = [];
  for (let i = 1; i <= ROWS; i++) lines.push(JSON.stringify(badKind(i) === 'invalid' ? { a: 'x', b: i } : badKind(i) === 'fails' ? { a: 1, b: 1, fail: true } : { a: i % 100, b: (i * 7) % 13 }));
  writeFileSync(join(dir, 'rows.jsonl'), `${lines.join('\n')}\n`);
  return { dir, env: { ...process.env, TIFFIN_HOME: join(dir, 'home') } };
}

function badKind(i: number): 'invalid' | 'fails' | undefined {
  return i % 1000 === 7 ? 'invalid' : i % 1000 === 9 ? 'fails' : undefined;
}

function args(dir: string, out: string, extra: string[] = []): string[] {
  return [join(ROOT, 'bin/tiffin.js'), 'run', SERVICE, '--api', 'predict', '--input', join(dir, 'rows.jsonl'), '--output', join(dir, out), ...extra];
}

function checkOutputs(dir: string, out: string): void {
  const outputs = readFileSync(join(dir, out), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: number; output: { y: number } });
  const errors = readFileSync(join(dir, `${out}.errors.jsonl`), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: number; code: string });
  const expected = [...Array(ROWS).keys()].map((k) => k + 1).filter((i) => !badKind(i));
  assert.deepEqual(outputs.map((o) => o.row), expected);
  for (const { row, output } of outputs) assert.equal(output.y, 2 * (row % 100) + 3 * ((row * 7) % 13) + 1);
  assert.deepEqual(errors.map((e) => [e.row, e.code]), [...Array(ROWS).keys()].map((k) => k + 1).filter((i) => badKind(i)).map((i) => [i, badKind(i) === 'invalid' ? 'VALIDATION_FAILED' : 'HANDLER_FAILED']));
}

test('every row once, in order, correct; bad rows in the errors file; exit 4', { timeout: 180_000 }, async () => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { stdio: 'inherit' });
  const { dir, env } = await setup();
  const run = spawnSync(process.execPath, args(dir, 'out.jsonl'), { env, encoding: 'utf8' });
  assert.equal(run.status, 4, run.stderr);
  checkOutputs(dir, 'out.jsonl');
});

test('SIGKILLed mid-way, the same command resumes with no row missing or repeated', { timeout: 180_000 }, async () => {
  const { dir, env } = await setup();
  const child = spawn(process.execPath, args(dir, 'res.jsonl', ['--concurrency', '2']), { env, stdio: 'ignore' });
  const checkpoint = join(dir, 'res.jsonl.checkpoint.json');
  for (let i = 0; i < 300 && !existsSync(checkpoint); i++) await delay(100);
  await delay(500);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { rowsDone: number };
  assert.ok(saved.rowsDone > 0 && saved.rowsDone < ROWS, `checkpoint at ${saved.rowsDone}`);
  const again = spawnSync(process.execPath, args(dir, 'res.jsonl'), { env, encoding: 'utf8' });
  assert.equal(again.status, 4, again.stderr);
  checkOutputs(dir, 'res.jsonl');
  assert.equal(existsSync(checkpoint), false);
});

test('CSV in, CSV out', { timeout: 120_000 }, async () => {
  const { dir, env } = await setup();
  writeFileSync(join(dir, 'rows.csv'), 'a,b\n1,2\n3,4\n');
  const run = spawnSync(process.execPath, [join(ROOT, 'bin/tiffin.js'), 'run', SERVICE, '--api', 'predict', '--input', join(dir, 'rows.csv'), '--output', join(dir, 'out.csv')], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(readFileSync(join(dir, 'out.csv'), 'utf8'), 'row,y\n1,9\n2,19\n');
});
