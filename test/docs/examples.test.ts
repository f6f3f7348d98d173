// The TypeScript examples in the README, the services guide and the pipelines guide must compile against the real public API
// ('tiffin', 'tiffin/client'): each ```ts block is written out (named by its first-line comment, such as
// `// service.ts`) and type-checked with the project's own compiler settings.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = ['README.md', 'docs/services.md', 'docs/pipelines.md'];

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

test('TypeScript examples in the docs type-check against the public API', async (t) => {
  // Inside the repository, so that 'tiffin' resolves to this package by self-reference.
  const out = join(ROOT, '.tmp', `doc-examples-${process.pid}`);
  t.after(() => rm(out, { recursive: true, force: true }));
  const files: string[] = [];
  for (const doc of DOCS) {
    const blocks = tsBlocks(await readFile(join(ROOT, doc), 'utf8'));
    assert.ok(blocks.length > 0, `${doc} has TypeScript examples`);
    for (const [i, code] of blocks.entries()) {
      const named = /^\/\/ ([\w./-]+\.ts)\b/.exec(code)?.[1];
      const file = join(out, doc.replace(/[/.]/g, '_'), named ?? `example-${i + 1}.ts`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, code);
      files.push(file);
    }
  }
  await writeFile(join(out, 'tsconfig.json'), JSON.stringify({ extends: '../../tsconfig.json', include: ['**/*.ts'] }));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '--noEmit', '-p', join(out, 'tsconfig.json')], { cwd: ROOT });
  } catch (err) {
    const e = err as { stdout: string };
    assert.fail(`the docs' examples do not compile:\n${e.stdout.replaceAll(out, '<docs>')}`);
  }
  assert.ok(files.length >= 4);
});

test("the README's tiffin.yaml example is a valid configuration", async () => {
  const { loadConfig } = await import('../../src/config/index.ts');
  const { tempDir } = await import('../../src/testing/temp-dir.ts');
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(yaml, 'the README has a tiffin.yaml example');
  const dir = await tempDir('docs-yaml');
  await writeFile(join(dir, 'tiffin.yaml'), yaml);
  const config = loadConfig({ cwd: dir, env: {} });
  assert.equal(config.server.port, 3000);
  assert.equal(config.server.maxBodySize, 32 * 1024 * 1024);
  assert.deepEqual(config.models.map((m) => m.name), ['iris']);
});
