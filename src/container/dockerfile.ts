// Renders the Dockerfile and .dockerignore for a bundle folder. Every value from tiffin.yaml or the bundle is
// validated or quoted here: a newline or a trailing backslash would start a new Dockerfile instruction.
import { TiffinError } from '../errors/index.ts';

/** The base image's Node major is the one running Tiffin now, so native modules in the lockfile match. */
export const DEFAULT_BASE_IMAGE = `node:${process.versions.node.split('.')[0]}-bookworm-slim`;
/** Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd. */
export const CONTAINER_UID = 10001;
export const DEFAULT_HTTP_PORT = 3000;
export const DEFAULT_GRPC_PORT = 8001;
/** Where the bundle lives in the image; `tiffin serve` is given this folder. */
export const BUNDLE_DIR = '/bundle';
/** Writable even under a read-only root filesystem once an emptyDir (or tmpfs) is mounted on /tmp. */
export const CONTAINER_TIFFIN_HOME = '/tmp/tiffin';

export interface DockerfileOptions {
  /** The bundle's name and version; they name the image in the header and the OCI labels. */
  name: string;
  version: string;
  /** The bundle's creation time (ISO 8601), for org.opencontainers.image.created. Omitted when absent. */
  createdAt?: string;
  /** User labels from the bundle, written after the OCI ones (so a user label may override them). */
  labels?: Record<string, string>;
  /** Default DEFAULT_BASE_IMAGE; a build may still override it with `--build-arg BASE_IMAGE=...`. */
  baseImage?: string;
  /** Debian packages installed with apt-get (--no-install-recommends); needs an apt-based base image. */
  systemPackages?: string[];
  /** Extra shell commands, one RUN each, run as root after the system packages and before `npm ci`. */
  setup?: string[];
  /** Environment from the bundle; written after Tiffin's defaults, so it wins over them. */
  env?: Record<string, string>;
  /** The ports Tiffin listens on in the image: HTTP (default 3000) and gRPC (default 8001). */
  ports?: { http?: number; grpc?: number };
}

function invalid(what: string, value: unknown, rule: string): TiffinError {
  return new TiffinError('BUILD_FAILED', `Cannot write the Dockerfile: ${what} ${JSON.stringify(value)} ${rule}.`, {
    details: { field: what, value },
  });
}

/** Rejects what would end or continue a Dockerfile line: any control character (newline, CR, NUL, tab ...). */
function assertOneLine(what: string, value: string): void {
  if (typeof value !== 'string' || /[\u0000-\u001f\u007f]/.test(value)) {
    throw invalid(what, value, 'must be a single line without control characters');
  }
}

/** A double-quoted Dockerfile word: backslash, quote and `$` (variable expansion) are escaped. */
export function quote(what: string, value: string): string {
  assertOneLine(what, value);
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const IMAGE_REF = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;
/** Debian package names, optionally with =version or :arch (as apt-get install accepts them). */
const PACKAGE = /^[a-z0-9][a-z0-9+.:=~_-]*$/;

function checked(what: string, value: string, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(what, value, rule);
  return value;
}

function port(what: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw invalid(what, value, 'must be a port number from 1 to 65535');
  return value;
}

/** A shell command for RUN: one line, and no trailing backslash (which would swallow the next instruction). */
function setupCommand(i: number, command: string): string {
  const what = `container.setup[${i}]`;
  assertOneLine(what, command);
  if (command.trim() === '') throw invalid(what, command, 'is empty');
  if (command.trimEnd().endsWith('\\')) throw invalid(what, command, 'must not end with a backslash');
  return command.trim();
}

function keyValueLines(instruction: 'ENV' | 'LABEL', pairs: [string, string][]): string {
  return `${instruction} ${pairs.map(([k, v]) => `${k}=${v}`).join(' \\\n    ')}`;
}

/** The healthcheck probe: the slim image has no curl, so Node's own fetch asks /livez on the port Tiffin uses. */
function healthcheckCommand(httpPort: number): string[] {
  const script =
    `fetch('http://127.0.0.1:'+(process.env.TIFFIN_PORT||process.env.PORT||${httpPort})+'/livez')` +
    '.then(r=>process.exit(r.ok?0:1),()=>process.exit(1))';
  return ['node', '-e', script];
}

export function renderDockerfile(options: DockerfileOptions): string {
  const name = checked('name', options.name, /^[a-z0-9][a-z0-9._-]*$/, 'must be a bundle name (a-z, 0-9, ".", "_", "-")');
  const version = checked('version', options.version, /^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a bundle version (letters, digits, ".", "_", "-")');
  const baseImage = checked('container.baseImage', options.baseImage ?? DEFAULT_BASE_IMAGE, IMAGE_REF, 'must be an image reference like node:20-bookworm-slim');
  const packages = (options.systemPackages ?? []).map((p, i) => checked(`container.systemPackages[${i}]`, p, PACKAGE, 'must be a Debian package name'));
  const setup = (options.setup ?? []).map((c, i) => setupCommand(i, c));
  const httpPort = port('ports.http', options.ports?.http ?? DEFAULT_HTTP_PORT);
  const grpcPort = port('ports.grpc', options.ports?.grpc ?? DEFAULT_GRPC_PORT);
  const tag = `${name}:${version}`;

  const labels: [string, string][] = [
    ['org.opencontainers.image.title', quote('name', name)],
    ['org.opencontainers.image.version', quote('version', version)],
  ];
  if (options.createdAt !== undefined) labels.push(['org.opencontainers.image.created', quote('createdAt', options.createdAt)]);
  for (const [k, v] of Object.entries(options.labels ?? {})) {
    labels.push([quote(`label key`, checked('label key', k, LABEL_KEY, 'must be letters, digits, ".", "_", "-" or "/"')), quote(`labels.${k}`, v)]);
  }

  const env: [string, string][] = [
    ['NODE_ENV', '"production"'],
    ['TIFFIN_HOST', '"0.0.0.0"'],
    ['TIFFIN_HOME', quote('TIFFIN_HOME', CONTAINER_TIFFIN_HOME)],
  ];
  for (const [k, v] of Object.entries(options.env ?? {})) {
    env.push([checked('env name', k, ENV_NAME, 'must be an environment variable name (letters, digits, "_")'), quote(`env.${k}`, v)]);
  }

  const blocks: string[] = [
    [
      `# Image for the Tiffin bundle ${tag}, generated by \`tiffin containerize\`.`,
      '# Change the bundle (tiffin.yaml) and run `tiffin build` again rather than editing this file.',
      '#',
      `#   build: docker build -t ${tag} .   (or: podman build --format docker -t ${tag} .)`,
      `#   run:   docker run --init -p ${httpPort}:${httpPort} -p ${grpcPort}:${grpcPort} -e TIFFIN_MANAGEMENT_TOKEN=<token> ${tag}`,
      '#',
      '# Tiffin listens on 0.0.0.0 here, and beyond loopback it refuses to start without a management token:',
      '# pass TIFFIN_MANAGEMENT_TOKEN (mint one with `tiffin tokens create --scope management`), or mount a tokens',
      '# file and set TIFFIN_TOKENS_FILE (see docs/security.md). Configure it with PORT and TIFFIN_* variables.',
      '# Kubernetes ignores HEALTHCHECK: point its livenessProbe at /livez and its readinessProbe at /readyz.',
    ].join('\n'),
    [
      '# The base image; override it with --build-arg BASE_IMAGE=... (for example a mirror or a local image).',
      `ARG BASE_IMAGE=${baseImage}`,
      'FROM ${BASE_IMAGE}',
    ].join('\n'),
  ];
  if (packages.length > 0) {
    blocks.push([
      '# System packages the service needs (container.systemPackages); the apt lists are removed to keep the layer small.',
      'RUN apt-get update \\',
      ` && apt-get install -y --no-install-recommends ${packages.join(' ')} \\`,
      ' && rm -rf /var/lib/apt/lists/*',
    ].join('\n'));
  }
  blocks.push([
    `# An unprivileged user with a fixed UID; written directly so that bases without useradd work too.`,
    `RUN echo 'tiffin:x:${CONTAINER_UID}:${CONTAINER_UID}:tiffin:${CONTAINER_TIFFIN_HOME}:/usr/sbin/nologin' >> /etc/passwd \\`,
    ` && echo 'tiffin:x:${CONTAINER_UID}:' >> /etc/group`,
  ].join('\n'));
  if (setup.length > 0) {
    blocks.push(['# Setup commands from the bundle (container.setup), run as root.', ...setup.map((c) => `RUN ${c}`)].join('\n'));
  }
  blocks.push(
    [
      `WORKDIR ${BUNDLE_DIR}`,
      '# Production dependencies only, exactly as the lockfile pins them (Tiffin itself comes from vendor/).',
      '# Copied before the app and models so this layer is reused while only those change. Dropping the npm',
      '# cache keeps the layer small; a cache mounted into the build (buildah -v, BuildKit) cannot be dropped.',
      'COPY package.json package-lock.json .npmrc ./',
      'COPY vendor/ ./vendor/',
      'RUN npm ci --omit=dev --no-audit --no-fund \\',
      ' && (npm cache clean --force || true)',
    ].join('\n'),
    [
      '# The pinned models, then the bundled service and its manifests. Files stay owned by root and readable by',
      '# all: the server can read its code and models but never change them.',
      'COPY models/ ./models/',
      'COPY app/ ./app/',
      'COPY bundle.yaml tiffin.yaml ./',
    ].join('\n'),
    [
      '# Defaults for the server; `docker run -e` overrides any of them. TIFFIN_HOME must be writable: with a',
      '# read-only root filesystem, mount an emptyDir or tmpfs on /tmp.',
      keyValueLines('ENV', env),
    ].join('\n'),
    ['# OCI annotations naming the bundle, then its own labels.', keyValueLines('LABEL', labels)].join('\n'),
    [
      `# HTTP (PORT, default ${httpPort}) and gRPC (TIFFIN_GRPC_PORT, default ${grpcPort}).`,
      `EXPOSE ${httpPort} ${grpcPort}`,
      `USER ${CONTAINER_UID}:${CONTAINER_UID}`,
      '# Liveness for docker and podman; the image has no curl, so Node asks /livez itself.',
      `HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \\`,
      `  CMD ${JSON.stringify(healthcheckCommand(httpPort))}`,
      '# Exec form: node is PID 1 and gets SIGTERM itself, then drains in-flight requests and exits.',
      'STOPSIGNAL SIGTERM',
      'ENTRYPOINT ["node", "node_modules/tiffin/bin/tiffin.js"]',
      `CMD ["serve", "${BUNDLE_DIR}"]`,
    ].join('\n'),
  );
  return `${blocks.join('\n\n')}\n`;
}

/** Keeps the build context to the bundle: no host node_modules (native modules must be built for the image). */
export function renderDockerignore(): string {
  return ['# Generated by `tiffin containerize`.', 'node_modules', '.git', 'Dockerfile', '.dockerignore', ''].join('\n');
}
