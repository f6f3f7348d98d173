// `tiffin containerize <tag>`: turns a built bundle into a container image with the first working tool
// (docker, podman, buildah, nerdctl), or only writes the build context with --context-only. Steps go to stderr,
// the image tag (or the context folder) to stdout, so `IMAGE=$(tiffin containerize app)` works.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import {
  BACKEND_NAMES,
  assertImageTag,
  buildImage,
  findBackend,
  isBackendName,
  writeBuildContext,
  type DockerfileOptions,
} from '../container/index.ts';
import { TiffinError } from '../errors/index.ts';
import { collect, keyValues, printJson, reportError } from './output.ts';

/** The parts of a bundle manifest (bundle.yaml) containerize reads; only name and version are required. */
export interface ContainerizeManifest {
  name: string;
  version: string;
  createdAt?: string;
  labels?: Record<string, string>;
  env?: Record<string, string>;
  container?: { baseImage?: string; systemPackages?: readonly string[]; setup?: readonly string[] };
}

export interface ResolvedBundle {
  /** The bundle folder, already verified against its manifest's digests. */
  dir: string;
  manifest: ContainerizeManifest;
}

interface ContainerizeFlags {
  backend?: string;
  tag?: string;
  contextOnly?: string;
  buildArg?: string[];
  json?: boolean;
}

/** Used only when the bundle has no Dockerfile of its own (an older `tiffin build`). */
function dockerfileOptions(m: ContainerizeManifest): DockerfileOptions {
  return {
    name: m.name,
    version: m.version,
    createdAt: m.createdAt,
    labels: m.labels,
    env: m.env,
    baseImage: m.container?.baseImage,
    systemPackages: m.container?.systemPackages ? [...m.container.systemPackages] : undefined,
    setup: m.container?.setup ? [...m.container.setup] : undefined,
  };
}

async function hasDockerfile(dir: string): Promise<boolean> {
  return stat(join(dir, 'Dockerfile')).then((s) => s.isFile(), () => false);
}

export function containerizeCommand(resolveBundle: (tag: string) => Promise<ResolvedBundle>): Command {
  return new Command('containerize')
    .description('build a container image from a bundle (docker, podman, buildah or nerdctl); prints the image tag')
    .argument('<tag>', 'the bundle: name, name:latest or name:version')
    .option('--backend <tool>', `build with this tool only: ${BACKEND_NAMES.join(', ')} (default: the first that works)`)
    .option('-t, --tag <image>', 'image tag (default <name>:<version> of the bundle)')
    .option('--context-only <dir>', 'only write the build context (bundle, Dockerfile, .dockerignore) to this empty folder')
    .option('--build-arg <key=value>', 'build argument, e.g. BASE_IMAGE=registry.local/node:20 (repeatable)', collect)
    .option('--json', 'print the result as JSON')
    .action(async (tag: string, o: ContainerizeFlags) => {
      try {
        await containerize(tag, o, resolveBundle);
      } catch (err) {
        reportError(err, Boolean(o.json));
      }
    });
}

async function containerize(bundleTag: string, o: ContainerizeFlags, resolveBundle: (tag: string) => Promise<ResolvedBundle>): Promise<void> {
  const step = (line: string) => {
    if (!o.json) process.stderr.write(`${line}\n`);
  };
  if (o.backend !== undefined && !isBackendName(o.backend)) {
    throw new TiffinError('BAD_REQUEST', `--backend must be one of ${BACKEND_NAMES.join(', ')}, got "${o.backend}"`);
  }
  const buildArgs = keyValues(o.buildArg, '--build-arg');
  const bundle = await resolveBundle(bundleTag);
  const bundleRef = `${bundle.manifest.name}:${bundle.manifest.version}`;
  const image = o.tag ?? bundleRef;
  assertImageTag(image);
  step(`bundle ${bundleRef} (${bundle.dir})`);
  const dockerfile = (await hasDockerfile(bundle.dir)) ? undefined : dockerfileOptions(bundle.manifest);
  if (dockerfile) step('the bundle has no Dockerfile; generating one from bundle.yaml');

  if (o.contextOnly !== undefined) {
    const dir = resolve(o.contextOnly);
    const files = await writeBuildContext(bundle.dir, dir, dockerfile);
    step(`wrote the build context to ${dir} (${files.length} files)`);
    step(`build it with: docker build -t ${image} ${dir}   (or: podman build --format docker -t ${image} ${dir})`);
    if (o.json) printJson({ bundle: bundleRef, image, context: dir, files });
    else process.stdout.write(`${dir}\n`);
    return;
  }

  const backend = await findBackend(o.backend as Parameters<typeof findBackend>[0]);
  for (const skipped of backend.skipped) step(`skipped ${skipped.name}: ${skipped.reason}`);
  step(`building with ${backend.name} (${backend.path})`);
  const context = await mkdtemp(join(tmpdir(), 'tiffin-context-'));
  try {
    const files = await writeBuildContext(bundle.dir, join(context, 'bundle'), dockerfile);
    step(`wrote the build context (${files.length} files)`);
    await buildImage(join(context, 'bundle'), {
      backend,
      tag: image,
      buildArgs,
      onLine: o.json ? undefined : (line) => process.stderr.write(`  | ${line}\n`),
    });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  step(`built image ${image}`);
  if (o.json) printJson({ bundle: bundleRef, image, backend: backend.name, skipped: backend.skipped });
  else process.stdout.write(`${image}\n`);
}
