// The published package as a user gets it: `npm pack` of this repository (the built dist/, which `npm test`
// builds first), installed with `npm install` into a fresh project. There, with plain Node and no TypeScript
// loader, `tiffin` and `tiffin/client` import; a TypeScript consumer type-checks against the shipped .d.ts;
// `npx tiffin --help` runs, and `tiffin models save` + `tiffin serve --models` answer a real KServe V2 request.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { linearRegression } from '../../src/onnx/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=warn'];

const CONSUMER_TS = `import { service, io, startServer, Models, ModelStore, tensor, TiffinError, type Tensor, type ModelManifest } from 'tiffin';
import { createClient, ClientError } from 'tiffin/client';
import { z } from 'zod';

const s = service('consumer', { models: { lin: 'lin:latest' } }).api('predict', {
  input: z.object({ x: z.array(z.number()).length(2) }),
  output: z.object({ y: z.number() }),
  handler: async ({ x }, ctx) => {
    const out = await ctx.models.lin.run({ input: tensor('float32', [1, 2], Float32Array.from(x)) });
    const y: Tensor = out.output!;
    return { y: Number(y.data[0]) };
  },
});
const manifest: ModelManifest | undefined = undefined;
const client = createClient('http://127.0.0.1:1');
void [s, io, startServer, Models, ModelStore, TiffinError, ClientError, manifest, client];
// @ts-expect-error: a service name must be a string
service(42, {});
`;

const SMOKE_MJS = `import * as tiffin from 'tiffin';
import * as client from 'tiffin/client';
const want = ['service', 'io', 'startServer', 'Models', 'ModelStore', 'tensor', 'TiffinError', 'RunnerPool', 'loadConfig'];
const missing = want.filter((k) => !(k in tiffin));
if (missing.length) throw new Error('missing exports: ' + missing);
if (typeof client.createClient !== 'function') throw new Error('tiffin/client has no createClient');
const loaders = process.execArgv.concat(Object.keys(process.env).filter((k) => k === 'NODE_OPTIONS').map((k) => process.env[k]));
console.log(JSON.stringify({ ok: true, loaders, url: import.meta.resolve('tiffin') }));
`;

test('npm pack: the tarball installs into a fresh project and works there without tsx for the library', { timeout: 240_000 }, async (t) => {
  assert.ok(existsSync(join(ROOT, 'dist/index.js')), 'dist/ is missing: run `npm run build` (npm test does it first)');
  const work = await tempDir('pack');
  // --ignore-scripts: dist/ is already built; `prepare` would build it again.
  const { stdout: packed } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 64 << 20 });
  const [info] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
  const shipped = info!.files.map((f) => f.path);
  assert.ok(shipped.includes('dist/index.js') && shipped.includes('dist/index.d.ts') && shipped.includes('bin/tiffin.js'));
  assert.ok(shipped.includes('dist/protocols/kserve-v2/grpc_service.proto') && shipped.includes('dist/runner/replica-worker-entry.js'));
  const strays = shipped.filter((p) => /(^|\/)(test|bench|docs|examples|src)\//.test(p) || /\.test\.|test-fixtures/.test(p));
  assert.deepEqual(strays, [], 'only what users need ships');

  const app = join(work, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  // As the README says: onnxruntime-node's install script would download CUDA files.
  await writeFile(join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
  const install = await run('npm', ['install', ...NPM_FLAGS, join(work, info!.filename), 'zod@^4', 'typescript@5.9', '@types/node@^20'], { cwd: app, maxBuffer: 64 << 20 });
  assert.doesNotMatch(install.stderr, /EBADENGINE/, 'every dependency supports the Node versions package.json claims');

  // Plain Node, no loader.
  await writeFile(join(app, 'smoke.mjs'), SMOKE_MJS);
  const smoke = JSON.parse((await run(process.execPath, ['smoke.mjs'], { cwd: app, env: { ...process.env, NODE_OPTIONS: '' } })).stdout) as { ok: boolean; loaders: string[]; url: string };
  assert.equal(smoke.ok, true);
  assert.deepEqual(smoke.loaders.filter(Boolean), []);
  assert.match(smoke.url, /node_modules\/tiffin\/dist\/index\.js$/);

  // A TypeScript consumer type-checks against the shipped declarations (and a wrong call does not).
  await writeFile(join(app, 'consumer.ts'), CONSUMER_TS);
  const tsconfig = { compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'], skipLibCheck: false }, files: ['consumer.ts'] };
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = join(app, 'node_modules/typescript/bin/tsc');
  await run(process.execPath, [tsc, '-p', '.'], { cwd: app }).catch((err: { stdout?: string }) => assert.fail(`consumer type-check failed:\n${err.stdout}`));

  const npx = (args: string[], env: Record<string, string> = {}) => run('npx', ['--no-install', 'tiffin', ...args], { cwd: app, env: { ...process.env, ...env } });
  assert.match((await npx(['--help'])).stdout, /Usage: tiffin/);

  // One stored model, served with no code.
  const home = join(work, 'home');
  await writeFile(join(app, 'lin.onnx'), linearRegression({ weights: [[2], [3]], bias: [1] }));
  await npx(['models', 'save', 'lin:1', 'lin.onnx', '--framework', 'onnx', '--batchable'], { TIFFIN_HOME: home });
  assert.ok((await readdir(join(home, 'models'))).includes('lin'));
  const server = spawn(join(app, 'node_modules/.bin/tiffin'), ['serve', '--models', 'lin', '--port', '0', '--no-grpc'], { cwd: app, env: { ...process.env, TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn' } });
  t.after(() => server.kill('SIGKILL'));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    server.stderr.on('data', (d: Buffer) => (out += d.toString()));
    server.on('exit', () => reject(new Error(`tiffin serve exited:\n${out}`)));
  });
  const res = await fetch(`${url}/v2/models/lin/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { outputs: { name: string; data: number[] }[] };
  assert.deepEqual(body.outputs[0]!.data, [6]);
  server.kill('SIGTERM');
});
