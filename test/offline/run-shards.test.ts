// `tiffin run --shard i/n` (what each pod of `tiffin deploy k8s --job` runs): three shards of one input run as three
// processes at once, each writing its own part; together the parts hold every row exactly once (no overlap, no gap),
// with the right output, and each bad row in exactly one shard's errors file. A shard resumes from its own checkpoint
// and refuses another shard's.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Models } from '../../src/models/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { ModelStore } from '../../src/store/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = join(ROOT, 'test/offline/fixtures/linear-service.ts');
const ROWS = 2_000;
const SHARDS = 3;

/** The CLI from source (no build needed), as a child process; resolves with its exit code and output. */
async function tiffinRun(dir: string, extra: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(ROOT, 'src/cli/main.ts'), 'run', SERVICE, '--api', 'predict', '--input', join(dir, 'rows.jsonl'), ...extra], {
    cwd: dir, env: { ...process.env, TIFFIN_HOME: join(dir, 'home') }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, out };
}

const bad = (i: number): boolean => i % 500 === 7;

test('three shards cover every row exactly once, each in its own part; bad rows land in one shard each', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-shards-'));
  writeFileSync(join(dir, 'lin.onnx'), linearRegression({ weights: [[2], [3]], bias: [1] }));
  await new Models(new ModelStore(join(dir, 'home/models'))).save('lin', join(dir, 'lin.onnx'), { framework: 'onnx', batchable: true });
  const lines = Array.from({ length: ROWS }, (_, k) => (bad(k + 1) ? '{"a":"x"}' : JSON.stringify({ a: (k + 1) % 50, b: (k + 1) % 7 })));
  writeFileSync(join(dir, 'rows.jsonl'), `${lines.join('\n')}\n`);

  const runs = await Promise.all(Array.from({ length: SHARDS }, (_, i) => tiffinRun(dir, ['--shard', `${i}/${SHARDS}`])));
  const seen = new Map<number, number>();
  const errored = new Set<number>();
  for (let i = 0; i < SHARDS; i++) {
    assert.equal(runs[i]!.code, 4, runs[i]!.out); // 4: some rows failed (the bad ones)
    const part = join(dir, `rows.part-${i}-of-${SHARDS}.out.jsonl`);
    const rows = readFileSync(part, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { row: number; output: { y: number } });
    for (const { row, output } of rows) {
      assert.equal((row - 1) % SHARDS, i, `row ${row} belongs to shard ${(row - 1) % SHARDS}, found in shard ${i}`);
      assert.equal(seen.has(row), false, `row ${row} written twice`);
      seen.set(row, output.y);
    }
    for (const l of readFileSync(`${part}.errors.jsonl`, 'utf8').trim().split('\n')) {
      const { row, code } = JSON.parse(l) as { row: number; code: string };
      assert.equal(code, 'VALIDATION_FAILED');
      assert.equal((row - 1) % SHARDS, i);
      assert.equal(errored.has(row), false);
      errored.add(row);
    }
    assert.equal(existsSync(`${part}.checkpoint.json`), false, 'a finished shard leaves no checkpoint');
  }
  for (let r = 1; r <= ROWS; r++) {
    if (bad(r)) assert.ok(errored.has(r) && !seen.has(r), `bad row ${r} in exactly one errors file`);
    else assert.equal(seen.get(r), 2 * (r % 50) + 3 * (r % 7) + 1, `row ${r}: no gap, right output`);
  }
  assert.equal(seen.size + errored.size, ROWS);

  // Per-shard checkpoints: one shard's checkpoint under another shard's output is refused, not resumed.
  const part0 = join(dir, `rows.part-0-of-${SHARDS}.out.jsonl`);
  const other = join(dir, 'other.out.jsonl');
  writeFileSync(`${other}.checkpoint.json`, JSON.stringify({ identity: { input: join(dir, 'rows.jsonl'), shard: '0/3' }, rowsDone: 3, inputOffset: 10, outputBytes: 0, errorsBytes: 0, ok: 1, failed: 0 }));
  writeFileSync(other, '');
  writeFileSync(`${other}.errors.jsonl`, '');
  const refused = await tiffinRun(dir, ['--shard', `1/${SHARDS}`, '--output', other]);
  assert.equal(refused.code, 2, refused.out);
  assert.match(refused.out, /CHECKPOINT_MISMATCH.*shard/s);
  assert.ok(existsSync(part0));

  const wrong = await tiffinRun(dir, ['--shard', '3/3']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.out, /--shard takes index\/count with 0 <= index < count/);
});
