import assert from 'node:assert/strict';
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { logisticRegression } from '../onnx/index.ts';
import { runTiffin as tiffin } from '../testing/cli-process.ts';
import { tempDir } from '../testing/temp-dir.ts';

test('tiffin models: save, list, get, verify, export, import and delete from the command line', async () => {
  const home = await tempDir('cli');
  const work = await tempDir('cli-work');
  const file = join(work, 'iris.onnx');
  await writeFile(file, logisticRegression({ weights: [[1, 0], [0, 1]], bias: [0, 0] }));

  const saved = await tiffin(home, 'models', 'save', 'iris:1', file, '--framework', 'onnx', '--label', 'stage=dev', '--metadata', 'accuracy=0.97', '--batchable');
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(saved.stdout, 'iris:1\n');
  const generated = await tiffin(home, 'models', 'save', 'iris', file, '-f', 'onnx');
  assert.match(generated.stdout.trim(), /^iris:[0-9a-z]{26}$/);
  const newest = generated.stdout.trim();

  const table = await tiffin(home, 'models', 'list');
  const lines = table.stdout.trim().split('\n');
  assert.match(lines[0]!, /^TAG\s+FRAMEWORK\s+SIZE\s+CREATED\s+LABELS$/);
  assert.equal(lines.length, 3);
  assert.ok(lines[1]!.startsWith(newest), 'newest first');
  assert.match(lines[2]!, /^iris:1\s+onnx\s+\d+ B\s+\d+s ago\s+stage=dev$/);

  const json = JSON.parse((await tiffin(home, 'models', 'list', '--label', 'stage=dev', '--json')).stdout) as { name: string; version: string; metadata: unknown }[];
  assert.deepEqual(json.map((m) => `${m.name}:${m.version}`), ['iris:1']);
  assert.deepEqual(json[0]!.metadata, { accuracy: 0.97 });

  const got = await tiffin(home, 'models', 'get', 'iris:1');
  assert.match(got.stdout, /run \(batchable on dim 0\)/);
  assert.match(got.stdout, /in  input: float32\[-1, 2\]/);
  assert.match(got.stdout, /out probabilities: float32\[-1, 2\]/);
  const latest = JSON.parse((await tiffin(home, 'models', 'get', 'iris:latest', '--json')).stdout) as { version: string };
  assert.equal(`iris:${latest.version}`, newest);

  assert.match((await tiffin(home, 'models', 'verify')).stdout, /iris:1\s+ok/);

  const archive = join(work, 'iris.tiffinmodel');
  const exported = await tiffin(home, 'models', 'export', 'iris:1', archive);
  assert.equal(exported.stdout, `exported iris:1 to ${archive}\n`);
  const again = await tiffin(home, 'models', 'import', archive);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^error \[MODEL_EXISTS\]: .*iris:1/);
  const otherHome = await tempDir('cli-other');
  assert.equal((await tiffin(otherHome, 'models', 'import', archive)).stdout, 'iris:1\n');

  // A damaged file is reported by verify with a non-zero exit code.
  const stored = JSON.parse((await tiffin(otherHome, 'models', 'get', 'iris:1', '--json')).stdout) as { name: string; version: string; entry: string };
  await appendFile(join(otherHome, 'models', 'iris', '1', stored.entry), 'x');
  const damaged = await tiffin(otherHome, 'models', 'verify', 'iris:1', '--json');
  assert.equal(damaged.code, 3);
  const reports = JSON.parse(damaged.stdout) as { ok: boolean; problems: string[] }[];
  assert.equal(reports[0]!.ok, false);
  assert.match(reports[0]!.problems.join(' '), /355 bytes, expected 354|sha256/);

  assert.equal((await tiffin(home, 'models', 'delete', 'iris:1')).stdout, 'deleted iris:1\n');
  assert.equal((await tiffin(home, 'models', 'delete', 'iris', '--all')).code, 0);
  assert.equal((await tiffin(home, 'models', 'list')).stdout, 'no models found\n');
});

test('tiffin models: mistakes get one clear line and a non-zero exit code, and change nothing', async () => {
  const home = await tempDir('cli');
  const work = await tempDir('cli-work');
  const bad = join(work, 'bad.onnx');
  await writeFile(bad, 'not onnx at all');

  const invalid = await tiffin(home, 'models', 'save', 'broken', bad, '--framework', 'onnx');
  assert.equal(invalid.code, 2);
  assert.match(invalid.stderr, /^error \[MODEL_INVALID\]: onnxruntime could not load/);
  const unknown = await tiffin(home, 'models', 'save', 'x', bad, '--framework', 'tensorflow', '--json');
  assert.deepEqual(Object.keys(JSON.parse(unknown.stderr).error), ['code', 'message']);
  assert.equal(JSON.parse(unknown.stderr).error.code, 'FRAMEWORK_UNKNOWN');
  const badName = await tiffin(home, 'models', 'save', 'Bad Name', bad, '--framework', 'onnx');
  assert.match(badName.stderr, /error \[INVALID_(NAME|TAG)\]/);
  const missing = await tiffin(home, 'models', 'get', 'nothing:1');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /error \[MODEL_NOT_FOUND\]/);
  const badLabel = await tiffin(home, 'models', 'list', '--label', 'novalue');
  assert.match(badLabel.stderr, /--label must look like key=value/);
  assert.equal((await tiffin(home, 'models', 'list', '--json')).stdout.trim(), '[]');
});
