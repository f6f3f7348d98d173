// Finds a container tool that can build here (docker, podman, buildah, nerdctl, in that order) and runs the
// build with it. A tool on PATH is not enough: a docker client without a daemon is skipped, with the reason kept.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { TiffinError } from '../errors/index.ts';

export const BACKEND_NAMES = ['docker', 'podman', 'buildah', 'nerdctl'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface Backend {
  name: BackendName;
  /** The executable found on PATH. */
  path: string;
}

/** What happened to each tool findBackend looked at, for the error and for `--json`. */
export interface BackendProbe {
  name: BackendName;
  path?: string;
  ok: boolean;
  reason?: string;
}

export interface FindBackendOptions {
  /** Default process.env; PATH is read from it and it is passed to the probes. */
  env?: NodeJS.ProcessEnv;
  /** How long a probe (`docker info` ...) may take; a daemon that does not answer counts as absent. Default 15 s. */
  probeTimeoutMs?: number;
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** `info` needs a working daemon (docker, nerdctl) or usable storage (podman, buildah): a fair test of "can build". */
const PROBE_ARGS: Record<BackendName, string[]> = {
  docker: ['info', '--format', '{{.ServerVersion}}'],
  podman: ['info', '--format', '{{.Version.Version}}'],
  buildah: ['info'],
  nerdctl: ['info', '--format', '{{.ServerVersion}}'],
};

async function onPath(command: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

interface RunResult {
  code: number | null;
  /** stdout and stderr lines, in arrival order (the last TAIL_LINES only). */
  tail: string[];
  error?: Error;
}

const TAIL_LINES = 40;

/** Runs a command, handing each output line to onLine and keeping the tail for error messages. */
function runStreaming(
  path: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; timeoutMs?: number; onLine?: (line: string) => void },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(path, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs });
    const tail: string[] = [];
    let spawnError: Error | undefined;
    const lines = (stream: NodeJS.ReadableStream) => {
      let partial = '';
      const emit = (line: string) => {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        options.onLine?.(line);
      };
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split(/\r?\n/);
        partial = parts.pop() ?? '';
        parts.forEach(emit);
      });
      stream.on('end', () => partial && emit(partial));
    };
    lines(child.stdout);
    lines(child.stderr);
    child.on('error', (err) => (spawnError = err));
    child.on('close', (code, signal) => {
      const timedOut = signal !== null && options.timeoutMs !== undefined;
      resolve({ code, tail, error: spawnError ?? (timedOut ? new Error(`no answer within ${options.timeoutMs} ms`) : undefined) });
    });
  });
}

/** The last meaningful line a failed probe printed, e.g. "Cannot connect to the Docker daemon at ...". */
function probeReason(name: BackendName, result: RunResult): string {
  if (result.error) return `\`${name} ${PROBE_ARGS[name][0]}\` failed: ${result.error.message}`;
  const last = result.tail.map((l) => l.trim()).filter(Boolean).at(-1);
  return `\`${name} ${PROBE_ARGS[name][0]}\` exited with ${result.code}${last ? `: ${last}` : ''}`;
}

async function probe(name: BackendName, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<BackendProbe> {
  const path = await onPath(name, env);
  if (!path) return { name, ok: false, reason: 'not on PATH' };
  const result = await runStreaming(path, PROBE_ARGS[name], { env, timeoutMs });
  return result.code === 0 && !result.error ? { name, path, ok: true } : { name, path, ok: false, reason: probeReason(name, result) };
}

function missing(probes: BackendProbe[]): TiffinError {
  const tried = probes.map((p) => `  ${p.name}: ${p.reason}`).join('\n');
  return new TiffinError(
    'CONTAINER_BACKEND_MISSING',
    `No container tool here can build an image. Tried:\n${tried}\n` +
      'Start the Docker daemon, or install one that needs no daemon (`apt-get install podman` or `apt-get install buildah`), ' +
      'or write the build context only with `--context-only <dir>` and build it elsewhere.',
    { details: { tried: probes } },
  );
}

/**
 * The first tool, in BACKEND_NAMES order, that is on PATH and answers `info`; only `preferred` when named.
 * Throws CONTAINER_BACKEND_MISSING listing each tool tried and why it was skipped.
 */
export async function findBackend(preferred?: BackendName, options: FindBackendOptions = {}): Promise<Backend & { skipped: BackendProbe[] }> {
  const env = options.env ?? process.env;
  const timeoutMs = options.probeTimeoutMs ?? 15_000;
  if (preferred !== undefined && !isBackendName(preferred)) {
    throw new TiffinError('BAD_REQUEST', `Unknown container backend "${String(preferred)}"; use one of ${BACKEND_NAMES.join(', ')}.`);
  }
  const probes: BackendProbe[] = [];
  for (const name of preferred ? [preferred] : BACKEND_NAMES) {
    const found = await probe(name, env, timeoutMs);
    if (found.ok && found.path) return { name, path: found.path, skipped: probes };
    probes.push(found);
  }
  throw missing(probes);
}

export interface BuildImageOptions {
  backend: Backend;
  /** The image reference to tag, e.g. iris-service:1. */
  tag: string;
  /** Each line the tool prints (stdout and stderr), as it arrives. */
  onLine?: (line: string) => void;
  /** `--build-arg` values, e.g. { BASE_IMAGE: 'localhost/node-base' }. */
  buildArgs?: Record<string, string>;
  /** Extra arguments passed before the context folder (e.g. ['--network', 'none']). */
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

/** Lower-case repository path, optional registry host:port, optional tag: what every backend accepts. */
const IMAGE_TAG = /^([a-z0-9.-]+(:\d+)?\/)?[a-z0-9]+([._-]+[a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

export function assertImageTag(tag: string): void {
  if (!IMAGE_TAG.test(tag)) {
    throw new TiffinError('BAD_REQUEST', `Invalid image tag ${JSON.stringify(tag)}: use [registry/]name[:tag] in lower case, for example iris-service:1.`);
  }
}

/**
 * The argv for each tool. podman and buildah write OCI images by default, which drop HEALTHCHECK;
 * `--format docker` keeps it.
 */
export function buildArgv(name: BackendName, tag: string, buildArgs: Record<string, string> = {}, extraArgs: string[] = []): string[] {
  const head: Record<BackendName, string[]> = {
    docker: ['build'],
    podman: ['build', '--format', 'docker'],
    buildah: ['bud', '--format', 'docker'],
    nerdctl: ['build'],
  };
  const args = Object.entries(buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  return [...head[name], '-t', tag, ...args, ...extraArgs, '.'];
}

/**
 * podman and buildah run each RUN step in an OCI runtime (crun, runc), which fails inside sandboxes and CI
 * containers without usable cgroups; chroot isolation needs neither.
 */
function isolationHint(name: BackendName, tail: string[], env: NodeJS.ProcessEnv): string {
  if ((name !== 'podman' && name !== 'buildah') || env.BUILDAH_ISOLATION) return '';
  const runtimeFailed = tail.some((l) => /crun|runc|OCI runtime|cgroup|container create message/i.test(l));
  return runtimeFailed ? '\nThe OCI runtime could not start a build step here; run again with BUILDAH_ISOLATION=chroot in the environment.' : '';
}

/** Builds the image from contextDir (which holds the Dockerfile); fails with BUILD_FAILED and the tool's last lines. */
export async function buildImage(contextDir: string, options: BuildImageOptions): Promise<{ tag: string; backend: BackendName }> {
  assertImageTag(options.tag);
  const { backend } = options;
  const argv = buildArgv(backend.name, options.tag, options.buildArgs, options.extraArgs);
  const result = await runStreaming(backend.path, argv, { cwd: contextDir, env: options.env ?? process.env, onLine: options.onLine });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new TiffinError('CONTAINER_BACKEND_MISSING', `${backend.name} is no longer at ${backend.path}; install it again or pick another with --backend.`);
  }
  if (result.code !== 0 || result.error) {
    const why = result.error ? result.error.message : `exit code ${result.code}`;
    throw new TiffinError(
      'BUILD_FAILED',
      `\`${backend.name} ${argv.join(' ')}\` failed in ${contextDir} (${why}). Its last lines:\n${result.tail.join('\n')}${isolationHint(backend.name, result.tail, options.env ?? process.env)}`,
      { details: { backend: backend.name, argv, exitCode: result.code, tail: result.tail } },
    );
  }
  return { tag: options.tag, backend: backend.name };
}
