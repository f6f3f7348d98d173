// Shipping, from the outside: `tiffin build examples/iris` makes a bundle; it is listed, verified and served by tag
// from another folder with a clean HOME; exported, imported elsewhere and served from the archive; pushed to an S3
// server (s3rver) and pulled into an empty home; written as a container build context, installed there with
// `npm ci --omit=dev` (offline) and served as the image would serve it. A bundle, an archive or a remote object
// altered after the build is refused.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadIris, train } from '../../examples/iris/train.ts';
import { Models } from '../../src/models/index.ts';
import { logisticRegression } from '../../src/onnx/index.ts';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET, S3RVER_CREDENTIALS, remoteOn, startS3rver } from '../../src/remote/test-fixtures.ts';
import { validateObject } from '../../src/deploy/test-fixtures.ts';
import { ModelStore } from '../../src/store/index.ts';
import { startTiffin } from '../../src/testing/cli-process.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/tiffin.js');
const FLOWER = { sepal_length: 5.9, sepal_width: 3.0, petal_length: 5.1, petal_width: 1.8 };

let home: string;
let tag: string;

/** Runs the CLI to completion; returns its exit code and output. */
function cli(args: string[], env: Record<string, string>, cwd = ROOT): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** cli() without blocking this process, which here also runs the S3 server the CLI talks to. */
async function cliAsync(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, stdout, stderr };
}

async function classify(url: string): Promise<{ species: string }> {
  const res = await fetch(`${url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(FLOWER) });
  assert.equal(res.status, 200);
  return (await res.json()) as { species: string };
}

before(async () => {
  home = await tempDir('ship-home');
  const trained = train(await loadIris());
  const file = join(home, 'iris.onnx');
  await writeFile(file, logisticRegression({ weights: trained.weights, bias: trained.bias }));
  await new Models(new ModelStore(join(home, 'models'))).save('iris', file, { framework: 'onnx', batchable: true });
  const built = cli(['build', 'examples/iris'], { TIFFIN_HOME: home });
  assert.equal(built.status, 0, built.stderr);
  assert.match(built.stderr, /\[1\/7\] reading tiffin.yaml[\s\S]*\[7\/7\]/, 'a progress line per step');
  tag = built.stdout.trim().split('\n').at(-1)!;
  assert.match(tag, /^iris-service:[0-9a-z]+$/, 'the new tag is printed last');
});

test('a built bundle is listed, pins its model, and serves by tag from another folder with a clean HOME', async (t) => {
  const list = JSON.parse(cli(['bundles', 'list', '--json'], { TIFFIN_HOME: home }).stdout) as { name: string; version: string; models: { ref: string; version: string }[]; files: { path: string }[] }[];
  assert.equal(list.length, 1);
  const [manifest] = list;
  const stored = await new ModelStore(join(home, 'models')).get('iris');
  assert.deepEqual(manifest!.models.map((m) => [m.ref, m.version]), [['iris:latest', stored.manifest.version]], 'iris:latest resolved at build time');
  const paths = manifest!.files.map((f) => f.path);
  for (const p of ['app/service.mjs', 'package.json', 'package-lock.json', 'Dockerfile', 'tiffin.yaml', `models/iris/${stored.manifest.version}/iris.onnx`]) assert.ok(paths.includes(p), `bundle holds ${p}`);
  assert.ok(paths.some((p) => /^vendor\/tiffin-.*\.tgz$/.test(p)), 'the framework is vendored');
  assert.equal(cli(['bundles', 'verify', tag], { TIFFIN_HOME: home }).status, 0);
  const pkg = JSON.parse(await readFile(join(home, 'bundles', ...tag.split(':'), 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  assert.deepEqual(Object.keys(pkg.dependencies).sort(), ['tiffin', 'zod'], 'only what the bundled code imports');
  const code = await readFile(join(home, 'bundles', ...tag.split(':'), 'app/service.mjs'), 'utf8');
  assert.doesNotMatch(code, /src\/index\.ts/, 'imports of Tiffin source became imports of the tiffin package');

  // Somewhere else, HOME empty: only the bundle store is shared. A new model saved in the developer's store since
  // the build changes nothing: the bundle serves the version it pinned.
  const elsewhere = await tempDir('ship-elsewhere');
  const run = startTiffin(t, ['serve', tag, '--no-grpc'], { cwd: elsewhere, cleanEnv: true, env: { HOME: elsewhere, TIFFIN_HOME: home, PORT: '0' } });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.equal((await classify(url!)).species, 'virginica');
  const served = (await (await fetch(`${url}/v2/models/iris`)).json()) as { versions: string[] };
  assert.deepEqual(served.versions, [stored.manifest.version]);
  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0);
});

test('a bundle altered after the build is refused by serve and reported by verify, naming the file', async (t) => {
  const copy = await tempDir('ship-tampered');
  const exported = join(copy, 'b.tiffinbundle');
  assert.equal(cli(['bundles', 'export', tag, exported], { TIFFIN_HOME: home }).status, 0);
  const other = join(copy, 'home');
  assert.equal(cli(['bundles', 'import', exported], { TIFFIN_HOME: other }).status, 0);
  await appendFile(join(other, 'bundles', ...tag.split(':'), 'app/service.mjs'), '\nconsole.log("injected");\n');

  const verify = cli(['bundles', 'verify', tag], { TIFFIN_HOME: other });
  assert.equal(verify.status, 3);
  assert.match(verify.stdout, /FAILED.*app\/service\.mjs/);
  const serve = startTiffin(t, ['serve', tag, '--port', '0', '--no-grpc'], { cwd: copy, cleanEnv: true, env: { HOME: copy, TIFFIN_HOME: other } });
  assert.equal(await serve.exit, 2);
  assert.match(serve.output(), /INTEGRITY_MISMATCH.*app\/service\.mjs/);
  assert.doesNotMatch(serve.output(), /injected/, 'the altered code never ran');
});

test('an exported bundle serves from its archive path in an empty home, and an altered archive is refused whole', async (t) => {
  const work = await tempDir('ship-archive');
  const archive = join(work, 'iris.tiffinbundle');
  assert.equal(cli(['bundles', 'export', tag, archive], { TIFFIN_HOME: home }).status, 0);

  const empty = join(work, 'home');
  const run = startTiffin(t, ['serve', archive, '--port', '0', '--no-grpc'], { cwd: work, cleanEnv: true, env: { HOME: work, TIFFIN_HOME: empty } });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.equal((await classify(url!)).species, 'virginica');
  run.child.kill('SIGTERM');
  await run.exit;

  // Flip bytes inside the packed service code: the archive still unpacks, but a digest no longer matches.
  const tar = gunzipSync(await readFile(archive));
  const at = tar.indexOf(Buffer.from('Predict the species'));
  assert.ok(at > 0);
  tar.write('Predict THE species', at);
  const altered = join(work, 'altered.tiffinbundle');
  await writeFile(altered, gzipSync(tar));
  const fresh = join(work, 'fresh');
  const imported = cli(['bundles', 'import', altered], { TIFFIN_HOME: fresh });
  assert.equal(imported.status, 2);
  assert.match(imported.stderr, /INTEGRITY_MISMATCH/);
  assert.equal(cli(['bundles', 'list', '--json'], { TIFFIN_HOME: fresh }).stdout.trim(), '[]', 'nothing half-imported');
});

test('containerize --context-only writes an image context that installs offline and serves as the image would', async (t) => {
  const work = await tempDir('ship-context');
  const out = join(work, 'out');
  const written = cli(['containerize', tag, '--context-only', out], { TIFFIN_HOME: home });
  assert.equal(written.status, 0, written.stderr);
  const dockerfile = await readFile(join(out, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /^USER \d+:\d+$/m, 'a numeric non-root user');
  assert.doesNotMatch(dockerfile, /^USER (0|root)\b/m);
  assert.match(dockerfile, /^HEALTHCHECK [\s\S]*\/livez/m);
  assert.match(dockerfile, /npm ci --omit=dev/);
  const version = (await new ModelStore(join(home, 'models')).get('iris')).manifest.version;
  assert.ok(existsSync(join(out, 'models/iris', version, 'iris.onnx')), 'the models are inside the context');

  // What the image's RUN npm ci does, from the npm cache only; then the image's command, with the files the
  // Dockerfile does not copy left out, from a clean HOME.
  const cache = execFileSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).trim();
  execFileSync('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund', '--cache', cache], { cwd: out, stdio: 'pipe', timeout: 240_000 });
  assert.ok(!existsSync(join(out, 'node_modules/typescript')), 'no dev dependencies');
  await rm(join(out, 'Dockerfile'));
  await rm(join(out, '.dockerignore'));
  const runHome = join(work, 'run-home');
  await mkdir(runHome);
  const run = startTiffin(t, ['serve', out, '--no-grpc'], {
    cwd: out,
    bin: join(out, 'node_modules/tiffin/bin/tiffin.js'),
    cleanEnv: true,
    env: { HOME: runHome, TIFFIN_HOME: join(runHome, 'tiffin'), PORT: '0' },
  });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.equal((await classify(url!)).species, 'virginica');
  assert.equal((await fetch(`${url}/livez`)).status, 200);
  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0);
});

test('bundles push and pull through an S3 server, and a tampered remote object is refused', async () => {
  const { endpoint } = await startS3rver();
  const s3 = {
    TIFFIN_S3_BUCKET: BUCKET, TIFFIN_S3_ENDPOINT: endpoint, TIFFIN_S3_PREFIX: 'ship',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_MAX_ATTEMPTS: '1',
  };
  const pushed = await cliAsync(['bundles', 'push', tag], { ...s3, TIFFIN_HOME: home });
  assert.equal(pushed.status, 0, pushed.stderr);
  const remote = JSON.parse((await cliAsync(['bundles', 'list', '--remote', '--json'], { ...s3, TIFFIN_HOME: home })).stdout) as { name: string; version: string }[];
  assert.deepEqual(remote.map((r) => `${r.name}:${r.version}`), [tag]);

  const work = await tempDir('ship-pull');
  const empty = join(work, 'home');
  const pulled = await cliAsync(['bundles', 'pull', 'iris-service'], { ...s3, TIFFIN_HOME: empty });
  assert.equal(pulled.status, 0, pulled.stderr);
  const verify = JSON.parse((await cliAsync(['bundles', 'verify', tag, '--json'], { TIFFIN_HOME: empty })).stdout) as { ok: boolean }[];
  assert.deepEqual(verify.map((r) => r.ok), [true]);

  // Flip one byte in the middle of the archive object, through the S3 API.
  const remoteStore = remoteOn(endpoint, 'ship');
  const key = `ship/bundles/${tag.replace(':', '/')}/archive.tiffinbundle`;
  const original = Buffer.from(await (await remoteStore.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body!.transformToByteArray());
  original.writeUInt8(original.readUInt8(original.length >> 1) ^ 0xff, original.length >> 1);
  await remoteStore.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: original }));
  const again = join(work, 'again');
  const refused = await cliAsync(['bundles', 'pull', tag], { ...s3, TIFFIN_HOME: again });
  assert.match(refused.stderr, /INTEGRITY_MISMATCH/);
  assert.notEqual(refused.status, 0);
  assert.equal((await cliAsync(['bundles', 'list', '--json'], { TIFFIN_HOME: again })).stdout.trim(), '[]', 'nothing appeared locally');
});

test('tiffin deploy k8s writes manifests for the bundle that pass the Kubernetes and CRD schemas', async () => {
  const out = join(await tempDir('ship-k8s'), 'k8s');
  const deployed = cli(['deploy', 'k8s', tag, '-o', out, '--image', 'registry.local/iris:1', '--kserve', '--service-monitor'], { TIFFIN_HOME: home });
  assert.equal(deployed.status, 0, deployed.stderr);
  assert.match(deployed.stdout, /kubectl apply -k/);
  const kustomization = (await import('yaml')).parse(await readFile(join(out, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  assert.equal(kustomization.resources.length, 7);
  for (const file of kustomization.resources) {
    const object = (await import('yaml')).parse(await readFile(join(out, file), 'utf8')) as { apiVersion: string; kind: string; spec?: { template?: { spec?: { containers?: { image: string }[] } } } };
    validateObject(object);
    if (object.kind === 'Deployment') assert.equal(object.spec!.template!.spec!.containers![0]!.image, 'registry.local/iris:1');
  }

  // --runners: the API and one runner per model (the bundle pins iris), each still valid.
  const runnersOut = join(await tempDir('ship-k8s-runners'), 'k8s');
  const split = cli(['deploy', 'k8s', tag, '-o', runnersOut, '--runners'], { TIFFIN_HOME: home });
  assert.equal(split.status, 0, split.stderr);
  const yaml = await import('yaml');
  const splitFiles = (yaml.parse(await readFile(join(runnersOut, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources;
  const splitObjects = await Promise.all(splitFiles.map(async (f) => yaml.parse(await readFile(join(runnersOut, f), 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string } }));
  for (const object of splitObjects) validateObject(object);
  assert.deepEqual(splitObjects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name).sort(), ['iris-service', 'iris-service-runner-iris']);

  // --job: one Indexed Job over a volume, valid; a bad shard count is refused.
  const jobOut = join(await tempDir('ship-k8s-job'), 'k8s');
  const job = cli(['deploy', 'k8s', tag, '-o', jobOut, '--job', '--input', 'pvc://data/rows.jsonl', '--output', 'pvc://data/out/', '--shards', '4'], { TIFFIN_HOME: home });
  assert.equal(job.status, 0, job.stderr);
  const jobObject = yaml.parse(await readFile(join(jobOut, 'job.yaml'), 'utf8')) as { apiVersion: string; kind: string; spec: { completionMode: string; completions: number } };
  validateObject(jobObject);
  assert.deepEqual([jobObject.kind, jobObject.spec.completionMode, jobObject.spec.completions], ['Job', 'Indexed', 4]);
  const refused = cli(['deploy', 'k8s', tag, '-o', jobOut, '--job', '--input', '/in.jsonl', '--output', '/out', '--shards', 'x'], { TIFFIN_HOME: home });
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--shards takes a whole number/);
});
