import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/temp-dir.ts';
import { isTiffinError } from '../errors/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { customRuntime } from './custom.ts';

async function folderWith(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('custom');
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

function manifestFor(dir: string, entry: string, prepared: Awaited<ReturnType<typeof customRuntime.prepare>>): ModelManifest {
  return {
    schemaVersion: 1, name: 'rules', version: '1', framework: 'custom', frameworkVersion: prepared.frameworkVersion,
    entry, createdAt: new Date().toISOString(), size: 0, labels: {}, metadata: { dir }, signatures: prepared.signatures, files: [],
  };
}

test('a class model: methods become signatures, setup sees its folder, helpers beside it import', async () => {
  const dir = await folderWith({
    'threshold.ts': 'export const THRESHOLD = 0.5;\n',
    'model.ts': `import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { THRESHOLD } from './threshold.ts';
export default class Rules {
  static signatures = { score: { batchable: true } };
  private words: string[] = [];
  setup(ctx: { dir: string }) { this.words = readFileSync(join(ctx.dir, 'words.txt'), 'utf8').trim().split('\\n'); }
  score(items: string[]) { return items.map((s) => (this.words.some((w) => s.includes(w)) ? 1 : 0) > THRESHOLD); }
  explain(s: string) { return { text: s, words: this.words }; }
}
`,
    'words.txt': 'refund\nangry\n',
  });
  const prepared = await customRuntime.prepare({ dir });
  assert.equal(prepared.entry, 'model.ts');
  assert.deepEqual(Object.keys(prepared.signatures).sort(), ['explain', 'score']);
  assert.equal(prepared.signatures.score?.batchable, true);
  assert.equal(prepared.signatures.explain?.batchable, false);

  const model = await customRuntime.load(dir, manifestFor(dir, 'model.ts', prepared));
  assert.deepEqual(await model.call('score', ['I want a refund', 'thanks!']), [true, false]);
  assert.deepEqual(await model.call('explain', 'hi'), { text: 'hi', words: ['refund', 'angry'] });
  await assert.rejects(model.call('nope', 1), (e) => isTiffinError(e, 'NOT_FOUND') && /has explain, score/.test(e.message));
  await model.dispose();
});

test('a function model is its run method; thrown errors become INFERENCE_FAILED', async () => {
  const dir = await folderWith({
    'index.js': 'export default function double(x) { if (typeof x !== "number") throw new Error("want a number"); return x * 2; }\n',
  });
  const prepared = await customRuntime.prepare({ dir, batchable: false });
  assert.deepEqual(Object.keys(prepared.signatures), ['run']);
  const model = await customRuntime.load(dir, manifestFor(dir, 'index.js', prepared));
  assert.equal(await model.call('run', 21), 42);
  await assert.rejects(model.call('run', 'x'), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /want a number/.test(e.message));
});

test('modules that cannot serve are refused at save time', async () => {
  const broken = await folderWith({ 'model.ts': 'export default class { oops( { }\n' });
  await assert.rejects(customRuntime.prepare({ dir: broken }), (e) => isTiffinError(e, 'MODEL_INVALID') && /could not import/.test(e.message));
  const empty = await folderWith({ 'model.js': 'export default 42;\n' });
  await assert.rejects(customRuntime.prepare({ dir: empty }), (e) => isTiffinError(e, 'MODEL_INVALID'));
  const ambiguous = await folderWith({ 'a.js': 'export default () => 1;', 'b.js': 'export default () => 2;' });
  await assert.rejects(customRuntime.prepare({ dir: ambiguous }), (e) => isTiffinError(e, 'MODEL_INVALID') && /--entry/.test(e.message));
  const wrongSignature = await folderWith({ 'model.js': 'export default { run: (x) => x };' });
  await assert.rejects(customRuntime.prepare({ dir: wrongSignature, signatures: { predict: { batchable: true } } }), /method "predict"/);
});
