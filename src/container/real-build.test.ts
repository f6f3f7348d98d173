// Builds a real image with buildah from a hand-made bundle and inspects it. No registry is needed: the base
// image is made from scratch out of the host's node, npm, /bin/sh and their libraries (as docs/containers-verified.md
// describes), and the bundle's only dependency is a tarball in vendor/. Skips where buildah or root is missing.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { tempDir } from '../testing/temp-dir.ts';
import { buildImage, findBackend } from './backends.ts';
import { writeBuildContext } from './context.ts';
import { CONTAINER_UID } from './dockerfile.ts';
import { writeFixtureBundle } from './test-fixtures.ts';

const exec = promisify(execFile);
const buildah = (...args: string[]) => exec('buildah', args, { maxBuffer: 64 << 20 }).then((r) => r.stdout.trim());

async function whyNot(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'real image builds are checked on Linux only';
  if (process.getuid?.() !== 0) return 'the scratch base image needs `buildah mount`, which needs root';
  const found = await findBackend('buildah').catch((err: Error) => err);
  if (found instanceof Error) return `buildah not installed or not working (apt-get install buildah): ${found.message.split('\n')[1]?.trim()}`;
  return access('/usr/lib/node_modules/npm/bin/npm-cli.js', constants.R_OK).then(() => undefined, () => 'npm is not at /usr/lib/node_modules/npm');
}

/** The host's node, npm, sh and env with the libraries ldd names, committed as a local image. */
async function makeScratchBase(tag: string): Promise<void> {
  const ctr = await buildah('from', 'scratch');
  try {
    const root = await buildah('mount', ctr);
    const libs = new Set<string>();
    for (const bin of [process.execPath, '/bin/sh', '/usr/bin/env']) {
      for (const m of (await exec('ldd', [bin])).stdout.matchAll(/(\/\S+)/g)) libs.add(m[1]!);
    }
    const put = async (from: string, to: string) => {
      await mkdir(dirname(join(root, to)), { recursive: true });
      await copyFile(from, join(root, to));
      await chmod(join(root, to), (await stat(from)).mode & 0o777);
    };
    for (const lib of libs) await put(lib, lib);
    await put(process.execPath, '/usr/bin/node');
    await put('/bin/sh', '/bin/sh');
    await put('/usr/bin/env', '/usr/bin/env');
    await cp('/usr/lib/node_modules/npm', join(root, 'usr/lib/node_modules/npm'), { recursive: true });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm'));
    await mkdir(join(root, 'tmp'), { mode: 0o1777 });
    await chmod(join(root, 'tmp'), 0o1777);
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(join(root, 'etc/group'), 'root:x:0:\n');
    await buildah('umount', ctr);
    await buildah('config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', ctr);
    await buildah('commit', '--format', 'docker', ctr, tag);
  } finally {
    await buildah('rm', ctr).catch(() => undefined);
  }
}

test('buildah builds the generated Dockerfile into an image with a non-root USER, a HEALTHCHECK and the models', { timeout: 300_000 }, async (t) => {
  const reason = await whyNot();
  if (reason) return t.skip(reason);
  const base = `localhost/tiffin-test-base:${process.pid}`;
  const image = `localhost/tiffin-test-bundle:${process.pid}`;
  t.after(() => buildah('rmi', '-f', image, base).catch(() => undefined));

  await makeScratchBase(base);
  const bundle = await writeFixtureBundle(await tempDir('real-bundle'));
  const context = join(await tempDir('real-context'), 'c');
  await writeBuildContext(bundle.dir, context, { name: bundle.name, version: bundle.version, labels: { team: 'ml' }, env: { GREETING: 'a "b" $HOME \\ c' } });
  const backend = await findBackend('buildah');
  // chroot isolation needs no OCI runtime or cgroups, so it works inside sandboxes and CI containers too.
  await buildImage(context, { backend, tag: image, buildArgs: { BASE_IMAGE: base }, env: { ...process.env, BUILDAH_ISOLATION: 'chroot' } });

  const inspected = JSON.parse(await buildah('inspect', '--type', 'image', image)) as {
    Docker: { config: { User: string; Healthcheck?: { Test: string[] }; Env: string[]; Labels: Record<string, string>; ExposedPorts: Record<string, unknown>; Entrypoint: string[]; Cmd: string[] } };
  };
  const config = inspected.Docker.config;
  assert.equal(config.User, `${CONTAINER_UID}:${CONTAINER_UID}`);
  assert.match(config.Healthcheck?.Test.join(' ') ?? '', /^CMD node -e .*\/livez/);
  assert.ok(config.Env.includes('TIFFIN_HOST=0.0.0.0'));
  assert.ok(config.Env.includes('GREETING=a "b" $HOME \\ c'), 'ENV quoting round-trips through a real parser');
  assert.equal(config.Labels['org.opencontainers.image.title'], 'iris-service');
  assert.equal(config.Labels.team, 'ml');
  assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['3000/tcp', '8001/tcp']);
  assert.deepEqual([...config.Entrypoint, ...config.Cmd], ['node', 'node_modules/tiffin/bin/tiffin.js', 'serve', '/bundle']);

  const ctr = await buildah('from', image);
  try {
    const root = await buildah('mount', ctr);
    const model = await stat(join(root, 'bundle/models/iris/1/model.yaml'));
    assert.equal(model.uid, 0, 'the models belong to root');
    assert.equal(model.mode & 0o777, 0o644, 'and are readable by the image user, not writable');
    assert.ok((await stat(join(root, 'bundle/node_modules/tiffin/bin/tiffin.js'))).isFile(), 'npm ci installed the vendored tiffin');
    await assert.rejects(stat(join(root, 'bundle/Dockerfile')), 'the Dockerfile is not copied into the image');
  } finally {
    await buildah('umount', ctr).catch(() => undefined);
    await buildah('rm', ctr).catch(() => undefined);
  }
});
