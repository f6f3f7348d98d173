// buildBundle in process: what tiffin.yaml's bundle section puts in a bundle, and builds that must fail, cleanly.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isTiffinError } from '../errors/index.ts';
import { Models } from '../models/index.ts';
import { linearRegression } from '../onnx/index.ts';
import { ModelStore, STAGING_DIR } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { buildBundle } from './build.ts';
import { BundleStore } from './bundle-store.ts';

const SRC = fileURLToPath(new URL('../', import.meta.url));

async function project(files: Record<string, string>): Promise<{ dir: string; models: ModelStore; bundles: BundleStore }> {
  const root = await tempDir('build');
  const dir = join(root, 'project');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const models = new ModelStore(join(root, 'models'));
  const onnx = join(root, 'm.onnx');
  await writeFile(onnx, linearRegression({ weights: [[1], [2]], bias: [0.5] }));
  await new Models(models).save('adder', onnx, { framework: 'onnx' });
  return { dir, models, bundles: new BundleStore(join(root, 'bundles')) };
}

const SERVICE = `import { io, service } from ${JSON.stringify(join(SRC, 'index.ts'))};
export default service('calc', { models: { adder: 'adder' } }).api('ping', { input: io.text(), output: io.text(), handler: async (s) => s });
`;

async function leftovers(bundles: BundleStore): Promise<string[]> {
  if (!existsSync(bundles.root)) return [];
  const staging = join(bundles.root, STAGING_DIR);
  return [...(await readdir(bundles.root)).filter((n) => n !== STAGING_DIR), ...(existsSync(staging) ? await readdir(staging) : [])];
}

test('the bundle section names the bundle, copies included files, and carries labels, env and container options', async () => {
  const p = await project({
    'service.ts': SERVICE,
    'tiffin.yaml': [
      'service: ./service.ts',
      'bundle:',
      '  name: calc-api',
      '  labels: { team: risk }',
      '  include: ["data/**", "*.txt"]',
      '  exclude: ["data/secret.txt"]',
      '  env: { GREETING: hello }',
      '  container: { baseImage: "registry.local/node:20", systemPackages: [libgomp1], setup: ["echo ready"] }',
      '',
    ].join('\n'),
    'data/table.csv': 'a,b\n1,2\n',
    'data/secret.txt': 'no',
    'notes.txt': 'hi',
  });
  const m = await buildBundle({ dir: p.dir, models: p.models, bundles: p.bundles, version: 'v1' });
  assert.equal(`${m.name}:${m.version}`, 'calc-api:v1');
  assert.deepEqual(m.labels, { team: 'risk' });
  assert.deepEqual(m.env, { GREETING: 'hello' });
  assert.deepEqual(m.models.map((x) => x.ref), ['adder']);
  const paths = m.files.map((f) => f.path);
  assert.ok(paths.includes('app/data/table.csv') && paths.includes('app/notes.txt'));
  assert.ok(!paths.includes('app/data/secret.txt'), 'exclude wins over include');
  const dir = (await p.bundles.get('calc-api:v1')).dir;
  const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /BASE_IMAGE=registry\.local\/node:20/);
  assert.match(dockerfile, /libgomp1/);
  assert.match(dockerfile, /RUN echo ready/);
  assert.match(dockerfile, /GREETING="hello"/);
  assert.match(await readFile(join(dir, 'tiffin.yaml'), 'utf8'), /^service: \.\/app\/service\.mjs$/m);
  assert.deepEqual((await p.bundles.verify('calc-api:v1'))[0]?.ok, true);
  await assert.rejects(buildBundle({ dir: p.dir, models: p.models, bundles: p.bundles, version: 'v1' }), (e) => isTiffinError(e, 'BUNDLE_EXISTS'));
});

test('a build that cannot finish leaves nothing in the bundle store, and its error says what to do', async () => {
  const internal = await project({
    'service.ts': `import { ModelStore } from ${JSON.stringify(join(SRC, 'store/index.ts'))};\n${SERVICE}void ModelStore;\n`,
    'tiffin.yaml': 'service: ./service.ts\n',
  });
  await assert.rejects(buildBundle({ dir: internal.dir, models: internal.models, bundles: internal.bundles }), (e) => {
    assert.ok(isTiffinError(e, 'BUILD_FAILED'));
    assert.match(e.message, /internal module src\/store\/index\.ts.*import from 'tiffin'/);
    return true;
  });
  assert.deepEqual(await leftovers(internal.bundles), []);

  const missingModel = await project({ 'service.ts': SERVICE.replace("'adder'", "'nope:3'"), 'tiffin.yaml': 'service: ./service.ts\n' });
  await assert.rejects(buildBundle({ dir: missingModel.dir, models: missingModel.models, bundles: missingModel.bundles }), (e) => isTiffinError(e, 'MODEL_NOT_FOUND'));
  assert.deepEqual(await leftovers(missingModel.bundles), []);

  const noConfig = await project({ 'service.ts': SERVICE });
  await assert.rejects(buildBundle({ dir: noConfig.dir, models: noConfig.models, bundles: noConfig.bundles }), (e) => isTiffinError(e, 'BUILD_FAILED') && /tiffin\.yaml/.test(e.message));

  const unknownPackage = await project({ 'service.ts': `import 'left-pad-not-installed';\n${SERVICE}`, 'tiffin.yaml': 'service: ./service.ts\n' });
  await assert.rejects(buildBundle({ dir: unknownPackage.dir, models: unknownPackage.models, bundles: unknownPackage.bundles }), (e) => {
    assert.ok(isTiffinError(e));
    assert.match(e.message, /left-pad-not-installed/);
    return true;
  });

  const badSection = await project({ 'service.ts': SERVICE, 'tiffin.yaml': 'service: ./service.ts\nbundle:\n  env: { "BAD NAME": x }\n' });
  await assert.rejects(buildBundle({ dir: badSection.dir, models: badSection.models, bundles: badSection.bundles }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /bundle\.env/.test(e.message));
});

test('a service with tasks gets better-sqlite3 in its bundle, from the project, or a build error saying to install it', async () => {
  const TASKS = `import { service } from ${JSON.stringify(join(SRC, 'index.ts'))};
import { z } from ${JSON.stringify(fileURLToPath(import.meta.resolve('zod')))};
export default service('jobs').task('echo', { input: z.object({ s: z.string() }), output: z.object({ s: z.string() }), handler: async (i) => i });
`;
  const without = await project({ 'service.ts': TASKS, 'tiffin.yaml': 'service: ./service.ts\n' });
  await assert.rejects(buildBundle({ dir: without.dir, models: without.models, bundles: without.bundles }), (e) => {
    assert.ok(isTiffinError(e, 'BUILD_FAILED'));
    assert.match(e.message, /declares tasks.*npm install better-sqlite3/);
    return true;
  });
  assert.deepEqual(await leftovers(without.bundles), []);

  const installed = JSON.parse(await readFile(join(SRC, '../node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string };
  const withIt = await project({
    'service.ts': TASKS,
    'tiffin.yaml': 'service: ./service.ts\n',
    // What `npm install better-sqlite3` leaves for the build to read: the installed version.
    'node_modules/better-sqlite3/package.json': JSON.stringify({ name: 'better-sqlite3', version: installed.version }),
  });
  const m = await buildBundle({ dir: withIt.dir, models: withIt.models, bundles: withIt.bundles, version: 'v1' });
  assert.equal(m.dependencies['better-sqlite3'], installed.version);
  const pkg = JSON.parse(await readFile(join((await withIt.bundles.get('jobs:v1')).dir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.equal(pkg.dependencies['better-sqlite3'], installed.version);
});

test('a bundle of a service whose model needs an optional framework package refuses to build without it', async () => {
  const p = await project({
    'service.ts': `import { io, service } from ${JSON.stringify(join(SRC, 'index.ts'))};
export default service('scorer', { models: { dense: 'dense' } }).api('ping', { input: io.text(), output: io.text(), handler: async (s) => s });
`,
    'tiffin.yaml': 'service: ./service.ts\n',
  });
  const { writeDenseModel } = await import('../testing/tfjs-fixtures.ts');
  const folder = join(p.dir, '..', 'dense');
  await writeDenseModel(folder);
  await new Models(p.models).save('dense', folder, { framework: 'tfjs' });
  await assert.rejects(buildBundle({ dir: p.dir, models: p.models, bundles: p.bundles }), (e) => {
    assert.ok(isTiffinError(e, 'BUILD_FAILED'));
    assert.match(e.message, /its tfjs models need @tensorflow\/tfjs-core: run `npm install @tensorflow\/tfjs-core`/);
    return true;
  });
  assert.deepEqual(await leftovers(p.bundles), []);
});
