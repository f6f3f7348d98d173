import assert from 'node:assert/strict';
import { chmod, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeFixtureBundle } from '../container/test-fixtures.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { containerizeCommand, type ResolvedBundle } from './containerize-command.ts';

/** Runs `tiffin containerize ...args` in-process with PATH replaced; returns what it printed and the exit code. */
async function containerize(bundle: ResolvedBundle, path: string, env: Record<string, string>, ...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write, env: { ...process.env } };
  const asked: string[] = [];
  process.stdout.write = ((chunk: string) => (out.push(chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (err.push(chunk), true)) as typeof process.stderr.write;
  Object.assign(process.env, { PATH: path, ...env });
  try {
    const cmd = containerizeCommand(async (tag) => (asked.push(tag), bundle));
    await cmd.parseAsync(args, { from: 'user' });
    return { stdout: out.join(''), stderr: err.join(''), exitCode: process.exitCode ?? 0, asked };
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.env = saved.env;
    process.exitCode = 0;
  }
}

async function fixture(): Promise<ResolvedBundle> {
  const b = await writeFixtureBundle(await tempDir('bundle'));
  return { dir: b.dir, manifest: { name: b.name, version: b.version, labels: { team: 'ml' }, env: { TIFFIN_LOG_LEVEL: 'debug' } } };
}

async function fakePodman(): Promise<string> {
  const bin = await tempDir('bin');
  const script = `#!/bin/sh
if [ "$1" = info ]; then exit 0; fi
printf '%s\\n' "$@" > "$FAKE_LOG"
echo * > "$FAKE_LOG.files"
echo "COMMIT $3"
`;
  await writeFile(join(bin, 'podman'), script);
  await chmod(join(bin, 'podman'), 0o755);
  await writeFile(join(bin, 'docker'), '#!/bin/sh\necho "Cannot connect to the Docker daemon" >&2\nexit 1\n');
  await chmod(join(bin, 'docker'), 0o755);
  return bin;
}

test('--context-only writes the context, generating a Dockerfile from the manifest, and prints the folder', async () => {
  const bundle = await fixture();
  const dir = join(await tempDir('out'), 'ctx');
  const r = await containerize(bundle, '/nonexistent', {}, 'iris-service', '--context-only', dir);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(r.asked, ['iris-service']);
  assert.equal(r.stdout, `${dir}\n`);
  assert.match(r.stderr, /build it with: docker build -t iris-service:1 /);
  const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8');
  assert.match(dockerfile, /"team"="ml"/);
  assert.match(dockerfile, /TIFFIN_LOG_LEVEL="debug"/);
});

test('builds with the first working tool, says why docker was skipped, and prints the image tag last', async () => {
  const bundle = await fixture();
  const bin = await fakePodman();
  const log = join(await tempDir('log'), 'argv');
  const r = await containerize(bundle, bin, { FAKE_LOG: log }, 'iris-service:1', '--build-arg', 'BASE_IMAGE=localhost/node-base');
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'iris-service:1\n');
  assert.match(r.stderr, /skipped docker: `docker info` exited with 1: Cannot connect to the Docker daemon/);
  assert.match(r.stderr, /building with podman/);
  assert.match(r.stderr, / {2}\| COMMIT docker/);
  const argv = (await readFile(log, 'utf8')).trim().split('\n');
  assert.deepEqual(argv, ['build', '--format', 'docker', '-t', 'iris-service:1', '--build-arg', 'BASE_IMAGE=localhost/node-base', '.']);
  assert.ok((await readFile(`${log}.files`, 'utf8')).trim().split(' ').includes('Dockerfile'), 'it ran in the context folder');

  const json = await containerize(bundle, bin, { FAKE_LOG: log }, 'iris-service', '--tag', 'registry.local:5000/ml/iris:v1', '--json');
  assert.equal(json.exitCode, 0, json.stderr);
  assert.equal(json.stderr, '', 'JSON mode keeps stderr quiet');
  const body = JSON.parse(json.stdout) as { image: string; backend: string; skipped: { name: string }[] };
  assert.equal(body.image, 'registry.local:5000/ml/iris:v1');
  assert.equal(body.backend, 'podman');
  assert.deepEqual(body.skipped.map((s) => s.name), ['docker']);
});

test('with no working tool: CONTAINER_BACKEND_MISSING and a non-zero exit; bad flags are refused', async () => {
  const bundle = await fixture();
  const emptyBin = await tempDir('empty-bin');
  const r = await containerize(bundle, emptyBin, {}, 'iris-service');
  assert.equal(r.exitCode, 2, 'a 4xx TiffinError exits 2, like the other commands');
  assert.match(r.stderr, /error \[CONTAINER_BACKEND_MISSING\]: No container tool/);
  assert.match(r.stderr, /--context-only/);
  assert.equal(r.stdout, '');
  assert.deepEqual(await readdir(emptyBin), []);

  const badBackend = await containerize(bundle, emptyBin, {}, 'iris-service', '--backend', 'kaniko');
  assert.match(badBackend.stderr, /error \[BAD_REQUEST\]: --backend must be one of docker, podman, buildah, nerdctl/);
  const badTag = await containerize(bundle, emptyBin, {}, 'iris-service', '--tag', 'Iris Service');
  assert.match(badTag.stderr, /error \[BAD_REQUEST\]: Invalid image tag/);
});
