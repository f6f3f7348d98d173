import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { csvCell, parseCsvRecords } from './csv.ts';
import { readRows } from './input-rows.ts';
import { OrderedResults, type RowResult } from './ordered-results.ts';
import { checkResumable, type Checkpoint } from './checkpoint.ts';

test('CSV: quoted commas, quotes and newlines; numbers unless quoted; resume from an offset', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'offline-'));
  const file = join(dir, 'rows.csv');
  writeFileSync(file, 'a,b,c\r\n1,"x,""y""\nz","[1,2]"\n"2",,-3.5e1\n4,5\n');
  const rows = [];
  for await (const r of readRows(file, 'csv')) rows.push(r);
  assert.deepEqual(rows.map((r) => r.value ?? r.error), [{ a: 1, b: 'x,"y"\nz', c: [1, 2] }, { a: '2', c: -35 }, 'the row has 2 fields; the header has 3']);
  const resumed = [];
  for await (const r of readRows(file, 'csv', rows[0]!.end, 2)) resumed.push(r.row);
  assert.deepEqual(resumed, [2, 3]);
  assert.equal(csvCell('a"b,c'), '"a""b,c"');
  assert.equal(parseCsvRecords(Buffer.from('"open'), 0, true).unterminated, true);
});

test('JSONL: blank lines are not rows; a bad line is a row error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'offline-'));
  const file = join(dir, 'rows.jsonl');
  writeFileSync(file, '{"a":1}\n\n{bad\n{"a":3}');
  const rows = [];
  for await (const r of readRows(file, 'jsonl')) rows.push(r);
  assert.deepEqual(rows.map((r) => [r.row, r.value ?? 'error']), [[1, { a: 1 }], [2, 'error'], [3, { a: 3 }]]);
});

test('results leave in input order whatever order they finish in', () => {
  const seen: number[] = [];
  const o = new OrderedResults(1, (r) => seen.push(r.row));
  for (const row of [3, 1, 2, 5, 4]) o.add({ row, end: 0, output: row } as RowResult);
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

test('a checkpoint of another input or api refuses to resume', () => {
  const identity = { input: '/a', size: 1, mtimeMs: 1, head: 'h', service: 's', api: 'p', output: 'jsonl' };
  const saved = { identity, rowsDone: 1 } as Checkpoint;
  checkResumable(saved, identity, 'cp');
  assert.throws(() => checkResumable(saved, { ...identity, size: 2, api: 'q' }, 'cp'), /size, api changed/);
});
