import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError, type TiffinError } from '../errors/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { buildArgv, buildImage, findBackend } from './backends.ts';

/** The error a promise rejects with; fails the test if it resolves. */
function rejection(promise: Promise<unknown>): Promise<TiffinError> {
  return promise.then(() => assert.fail('expected a rejection'), (e: unknown) => e as TiffinError);
}

/** A docker client with no daemon, as on this project's CI machines. */
const DOCKER_WITHOUT_DAEMON = `#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
`;

/** A podman that answers `info`, records each build's argv and working folder, and fails when told to. */
const WORKING_PODMAN = `#!/bin/sh
if [ "$1" = info ]; then echo 4.3.1; exit 0; fi
printf '%s\\n' "$PWD" "$@" > "$FAKE_LOG"
echo "STEP 1/2: FROM node"
echo "warning: something" >&2
if [ -n "$FAKE_FAIL" ]; then echo "Error: building at STEP 2/2: exit status 1" >&2; exit 3; fi
echo "Successfully tagged localhost/iris-service:1"
`;

async function fakeTools(tools: Record<string, string>): Promise<string> {
  const dir = await tempDir('fake-tools');
  for (const [name, script] of Object.entries(tools)) {
    await writeFile(join(dir, name), script);
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}

test('findBackend skips a docker without a daemon, keeps the reason, and picks podman', async () => {
  const bin = await fakeTools({ docker: DOCKER_WITHOUT_DAEMON, podman: WORKING_PODMAN });
  const backend = await findBackend(undefined, { env: { PATH: bin } });
  assert.equal(backend.name, 'podman');
  assert.equal(backend.path, join(bin, 'podman'));
  assert.equal(backend.skipped.length, 1);
  assert.equal(backend.skipped[0]!.name, 'docker');
  assert.match(backend.skipped[0]!.reason!, /docker info.*exited with 1: Cannot connect to the Docker daemon/);
});

test('findBackend with none usable throws CONTAINER_BACKEND_MISSING naming each tool, why, and what to do', async () => {
  const bin = await fakeTools({ docker: DOCKER_WITHOUT_DAEMON });
  const err = await findBackend(undefined, { env: { PATH: bin } }).then(
    () => assert.fail('expected an error'),
    (e: unknown) => e as TiffinError,
  );
  assert.ok(isTiffinError(err, 'CONTAINER_BACKEND_MISSING'), String(err));
  assert.match(err.message, /docker: `docker info` exited with 1: Cannot connect/);
  for (const tool of ['podman', 'buildah', 'nerdctl']) assert.match(err.message, new RegExp(`${tool}: not on PATH`));
  assert.match(err.message, /apt-get install podman/);
  assert.match(err.message, /buildah/);
  assert.match(err.message, /--context-only/);
});

test('findBackend with a preferred tool probes only that one', async () => {
  const bin = await fakeTools({ docker: DOCKER_WITHOUT_DAEMON, podman: WORKING_PODMAN });
  const err = await rejection(findBackend('docker', { env: { PATH: bin } }));
  assert.ok(isTiffinError(err, 'CONTAINER_BACKEND_MISSING'));
  assert.doesNotMatch(err.message, /podman:/);
  assert.equal((await findBackend('podman', { env: { PATH: bin } })).name, 'podman');
});

test('a probe that hangs counts as not working', async () => {
  const bin = await fakeTools({ docker: '#!/bin/sh\nexec /bin/sleep 10\n', podman: WORKING_PODMAN });
  const backend = await findBackend(undefined, { env: { PATH: bin }, probeTimeoutMs: 300 });
  assert.equal(backend.name, 'podman');
  assert.match(backend.skipped[0]!.reason!, /no answer within 300 ms/);
});

test('buildArgv: each tool gets its own build command; podman and buildah keep HEALTHCHECK with --format docker', () => {
  assert.deepEqual(buildArgv('docker', 'app:1'), ['build', '-t', 'app:1', '.']);
  assert.deepEqual(buildArgv('podman', 'app:1'), ['build', '--format', 'docker', '-t', 'app:1', '.']);
  assert.deepEqual(buildArgv('buildah', 'app:1', { BASE_IMAGE: 'localhost/base' }), ['bud', '--format', 'docker', '-t', 'app:1', '--build-arg', 'BASE_IMAGE=localhost/base', '.']);
  assert.deepEqual(buildArgv('nerdctl', 'app:1', {}, ['--network', 'none']), ['build', '-t', 'app:1', '--network', 'none', '.']);
});

test('buildImage runs the backend in the context folder with the right argv and streams its lines', async () => {
  const bin = await fakeTools({ podman: WORKING_PODMAN });
  const context = await tempDir('context');
  const log = join(context, '..', `${context.split('/').pop()}.argv`);
  const lines: string[] = [];
  const env = { PATH: bin, FAKE_LOG: log };
  const result = await buildImage(context, { backend: { name: 'podman', path: join(bin, 'podman') }, tag: 'iris-service:1', onLine: (l) => lines.push(l), env });
  assert.deepEqual(result, { tag: 'iris-service:1', backend: 'podman' });
  assert.deepEqual((await readFile(log, 'utf8')).trim().split('\n'), [context, 'build', '--format', 'docker', '-t', 'iris-service:1', '.']);
  assert.ok(lines.includes('STEP 1/2: FROM node'));
  assert.ok(lines.includes('warning: something'), 'stderr lines are streamed too');
});

test('buildImage fails with BUILD_FAILED carrying the tail of the output, and refuses a bad tag before running', async () => {
  const bin = await fakeTools({ podman: WORKING_PODMAN });
  const context = await tempDir('context');
  const backend = { name: 'podman' as const, path: join(bin, 'podman') };
  const err = await rejection(buildImage(context, { backend, tag: 'app:1', env: { PATH: bin, FAKE_LOG: join(context, 'argv'), FAKE_FAIL: '1' } }));
  assert.ok(isTiffinError(err, 'BUILD_FAILED'), String(err));
  assert.match(err.message, /exit code 3/);
  assert.match(err.message, /Error: building at STEP 2\/2/);
  const bad = await rejection(buildImage(context, { backend, tag: 'App:1', env: { PATH: bin } }));
  assert.ok(isTiffinError(bad, 'BAD_REQUEST'));
});

test('a podman build step the OCI runtime cannot start suggests BUILDAH_ISOLATION=chroot', async () => {
  const script = '#!/bin/sh\necho "crun: cgroups in hybrid mode not supported, drop all controllers from cgroupv2" >&2\nexit 1\n';
  const bin = await fakeTools({ podman: script });
  const context = await tempDir('context');
  const backend = { name: 'podman' as const, path: join(bin, 'podman') };
  const err = await rejection(buildImage(context, { backend, tag: 'app:1', env: { PATH: bin } }));
  assert.match(err.message, /BUILDAH_ISOLATION=chroot/);
  const again = await rejection(buildImage(context, { backend, tag: 'app:1', env: { PATH: bin, BUILDAH_ISOLATION: 'chroot' } }));
  assert.doesNotMatch(again.message, /run again with BUILDAH_ISOLATION/, 'no hint when it is already set');
});
