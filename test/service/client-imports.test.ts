// `tiffin/client` must stay light: importing it may load only the client's own files (and the tiny
// float16 helper), never the server, the service SDK, fastify, zod, sharp, pino or onnxruntime.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEAVY = ['fastify', 'zod', 'sharp', 'pino', 'onnxruntime-node', 'onnxruntime-common', '@fastify/'];

test('importing src/client/index.ts in a fresh process loads no heavy module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-imports-'));
  try {
    const record = join(dir, 'imports.txt');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', './test/service/fixtures/record-imports.mjs', '--input-type=module', '-e', "const c = await import('./src/client/index.ts'); if (typeof c.createClient !== 'function') process.exit(3);"],
      { cwd: ROOT, env: { ...process.env, TIFFIN_RECORD_IMPORTS: record }, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    const urls = readFileSync(record, 'utf8').split('\n').filter(Boolean);
    const ours = urls.filter((u) => u.startsWith('file:') && !u.includes('/node_modules/')).map((u) => fileURLToPath(u).slice(ROOT.length));
    assert.ok(ours.includes('src/client/index.ts'), `recorded the client itself: ${ours.join(', ')}`);
    const loaded = urls.filter((u) => u.includes('/node_modules/') && !u.includes('/node_modules/tsx/') && !u.includes('/node_modules/esbuild/') && !u.includes('/node_modules/get-tsconfig/') && !u.includes('/node_modules/resolve-pkg-maps/'));
    for (const heavy of HEAVY) assert.ok(!loaded.some((u) => u.includes(`/node_modules/${heavy}`)), `loaded ${heavy}: ${loaded.join(', ')}`);
    const outside = ours.filter((p) => !p.startsWith('src/client/') && p !== 'src/runtime/half.ts' && !p.startsWith('test/'));
    assert.deepEqual(outside, [], 'the client loads no other Tiffin module at run time');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the client source imports only types from outside src/client (static check)', () => {
  const clientDir = join(ROOT, 'src/client');
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    // Value imports only: `import type` and `export type` disappear at run time.
    for (const m of source.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  for (const f of readdirSync(clientDir)) if (f.endsWith('.ts') && !f.endsWith('.test.ts')) visit(join(clientDir, f));
  const nonNode = [...bare].filter((s) => !s.startsWith('node:'));
  assert.deepEqual(nonNode, [], 'no package imports');
  const files = [...seen].map((f) => f.slice(ROOT.length)).filter((f) => !f.startsWith('src/client/'));
  assert.deepEqual(files, ['src/runtime/half.ts']);
});
