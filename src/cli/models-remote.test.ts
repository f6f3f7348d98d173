// `tiffin models push|pull` and `list --remote` against a real s3rver, through the built binary (bin/tiffin.js).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { logisticRegression } from '../onnx/index.ts';
import { BUCKET, S3RVER_CREDENTIALS, startS3rver } from '../remote/test-fixtures.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';

const BIN = new URL('../../bin/tiffin.js', import.meta.url).pathname;
const run = promisify(execFile);
const { endpoint } = await startS3rver();

/** The parent's environment without any S3 or AWS settings that could point the child elsewhere. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TIFFIN_|AWS_)/.test(k)));
  return { ...env, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_MAX_ATTEMPTS: '1', ...extra };
}

function remoteEnv(home: string, prefix: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ TIFFIN_HOME: home, TIFFIN_S3_BUCKET: BUCKET, TIFFIN_S3_ENDPOINT: endpoint, TIFFIN_S3_PREFIX: prefix, ...extra });
}

async function tiffin(env: NodeJS.ProcessEnv, cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env, cwd });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function modelFile(seed: number): Promise<string> {
  const file = join(await tempDir('cli-remote-src'), 'iris.onnx');
  await writeFile(file, logisticRegression({ weights: [[seed, 0], [0, 1]], bias: [0, seed] }));
  return file;
}

test('tiffin models push, list --remote and pull move a model between two homes through the bucket', async () => {
  const cwd = await tempDir('cli-remote-cwd');
  const alice = await tempDir('cli-remote-alice');
  const bob = await tempDir('cli-remote-bob');
  const envA = remoteEnv(alice, 'cli');
  const envB = remoteEnv(bob, 'cli');
  assert.equal((await tiffin(envA, cwd, 'models', 'save', 'iris:1', await modelFile(1), '-f', 'onnx', '-l', 'stage=dev')).code, 0);
  assert.equal((await tiffin(envA, cwd, 'models', 'save', 'iris:2', await modelFile(2), '-f', 'onnx', '-l', 'stage=prod')).code, 0);

  const pushed = await tiffin(envA, cwd, 'models', 'push', 'iris:1');
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /^pushed iris:1 to s3:\/\/tiffin\/cli\/models\/iris\/1\/archive\.tiffinmodel \(\d+ B\)\n$/);
  assert.equal(pushed.stderr, '', 'no SDK warnings, no progress bar off a terminal');
  const latest = JSON.parse((await tiffin(envA, cwd, 'models', 'push', 'iris', '--json')).stdout) as { version: string; archive: { sha256: string } };
  assert.equal(latest.version, '2');

  const again = await tiffin(envA, cwd, 'models', 'push', 'iris:1');
  assert.equal(again.code, 2);
  assert.match(again.stderr, /^error \[REMOTE_EXISTS\]: iris:1 is already in s3:\/\/tiffin\/cli\/models\/.*--force/);
  assert.equal((await tiffin(envA, cwd, 'models', 'push', 'iris:1', '--force')).code, 0);

  const listed = (await tiffin(envB, cwd, 'models', 'list', '--remote')).stdout.trim().split('\n');
  assert.match(listed[0]!, /^TAG\s+SIZE\s+CREATED\s+LABELS$/);
  assert.match(listed[1]!, /^iris:2\s+\d+ B\s+\d+s ago\s+stage=prod$/);
  assert.match(listed[2]!, /^iris:1\s+\d+ B\s+\d+s ago\s+stage=dev$/);
  assert.equal(listed.length, 3);
  const json = JSON.parse((await tiffin(envB, cwd, 'models', 'list', '--remote', 'iris', '--label', 'stage=dev', '--json')).stdout) as { name: string; version: string }[];
  assert.deepEqual(json.map((r) => `${r.name}:${r.version}`), ['iris:1']);
  assert.equal((await tiffin(envB, cwd, 'models', 'list')).stdout, 'no models found\n', 'list without --remote stays local');

  const pulled = await tiffin(envB, cwd, 'models', 'pull', 'iris');
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(pulled.stdout, 'pulled iris:2\n');
  assert.equal((await tiffin(envB, cwd, 'models', 'pull', 'iris:2')).stdout, 'iris:2 is already in the local model store; nothing pulled (pass --force to replace it)\n');
  const result = JSON.parse((await tiffin(envB, cwd, 'models', 'pull', 'iris:2', '--force', '--json')).stdout) as { pulled: boolean; archive: { sha256: string } };
  assert.equal(result.pulled, true);
  assert.equal(result.archive.sha256, latest.archive.sha256);
  const mine = new ModelStore({ root: join(alice, 'models') });
  const theirs = new ModelStore({ root: join(bob, 'models') });
  assert.deepEqual((await theirs.get('iris:2')).manifest, (await mine.get('iris:2')).manifest);

  const missing = await tiffin(envB, cwd, 'models', 'pull', 'ocr');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^error \[REMOTE_NOT_FOUND\]: No model ocr in s3:\/\/tiffin\/cli\/models\//);
});

test('the bucket can come from tiffin.yaml (-c); no bucket, a bad endpoint and a dead endpoint each get one clear line', async () => {
  const cwd = await tempDir('cli-remote-cwd');
  const home = await tempDir('cli-remote-home');
  await tiffin(cleanEnv({ TIFFIN_HOME: home }), cwd, 'models', 'save', 'iris:1', await modelFile(3), '-f', 'onnx');
  const config = join(cwd, 'remote.yaml');
  await writeFile(config, `remote:\n  s3:\n    bucket: ${BUCKET}\n    prefix: from-yaml\n    endpoint: ${endpoint}\n`);
  const pushed = await tiffin(cleanEnv({ TIFFIN_HOME: home }), cwd, 'models', 'push', 'iris:1', '-c', config);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stdout, /s3:\/\/tiffin\/from-yaml\/models\/iris\/1\//);
  assert.match((await tiffin(cleanEnv({ TIFFIN_HOME: home }), cwd, 'models', 'list', '--remote', '-c', config)).stdout, /^TAG.*\niris:1 /);

  const none = await tiffin(cleanEnv({ TIFFIN_HOME: home }), cwd, 'models', 'push', 'iris:1');
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^error \[REMOTE_NOT_CONFIGURED\]: .*TIFFIN_S3_BUCKET/);
  const noneJson = JSON.parse(await tiffin(cleanEnv({ TIFFIN_HOME: home }), cwd, 'models', 'list', '--remote', '--json').then((r) => r.stderr)) as { error: { code: string } };
  assert.equal(noneJson.error.code, 'REMOTE_NOT_CONFIGURED');

  const bad = await tiffin(cleanEnv({ TIFFIN_HOME: home, TIFFIN_S3_BUCKET: BUCKET, TIFFIN_S3_ENDPOINT: 'localhost' }), cwd, 'models', 'pull', 'iris');
  assert.match(bad.stderr, /^error \[CONFIG_INVALID\]: .*TIFFIN_S3_ENDPOINT/);

  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = server.address() as { port: number };
      server.close(() => resolve(p));
    });
  });
  const started = Date.now();
  const dead = await tiffin(cleanEnv({ TIFFIN_HOME: home, TIFFIN_S3_BUCKET: BUCKET, TIFFIN_S3_ENDPOINT: `http://127.0.0.1:${port}` }), cwd, 'models', 'push', 'iris:1');
  assert.equal(dead.code, 1, 'a 502 exits 1');
  assert.match(dead.stderr, new RegExp(`^error \\[REMOTE_FAILED\\]: Could not check s3://tiffin/models/iris/1/version.json at http://127.0.0.1:${port}: .*ECONNREFUSED`));
  assert.ok(Date.now() - started < 10_000);
});

test('tiffin serve --models with TIFFIN_REMOTE_PULL_ON_START pulls a missing model before it starts', async () => {
  const cwd = await tempDir('cli-remote-cwd');
  const alice = await tempDir('cli-remote-alice');
  const server = await tempDir('cli-remote-server');
  await tiffin(remoteEnv(alice, 'serve'), cwd, 'models', 'save', 'iris:7', await modelFile(4), '-f', 'onnx');
  assert.equal((await tiffin(remoteEnv(alice, 'serve'), cwd, 'models', 'push', 'iris:7')).code, 0);

  const child = spawn(process.execPath, [BIN, 'serve', '--models', 'iris', '--port', '0', '--no-grpc', '--log-level', 'info'], {
    cwd, env: remoteEnv(server, 'serve', { TIFFIN_REMOTE_PULL_ON_START: 'true', TIFFIN_POLL_INTERVAL: '0' }), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not get ready:\n${out}`)), 30_000);
      const check = (): void => {
        const m = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      };
      child.stdout.on('data', check);
      child.on('exit', () => reject(new Error(`serve exited:\n${out}`)));
    });
    assert.match(out, /pulled iris:7 from tiffin \(remote\.pullOnStart\)/);
    const ready = await fetch(`${url}/v2/models/iris/ready`);
    assert.equal(ready.status, 200);
    const stored = await new ModelStore({ root: join(server, 'models') }).list();
    assert.deepEqual(stored.map((m) => `${m.name}:${m.version}`), ['iris:7']);
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(undefined) : child.once('exit', resolve)));
  }
});
