// Owns: `tiffin build`: turns a project folder (tiffin.yaml naming a service) into an immutable bundle in the
// BundleStore: the code bundled by esbuild, the exact model versions it serves, the runtime dependencies with a
// lockfile, the resolved config, a Dockerfile, and bundle.yaml listing every file's sha256.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { glob } from 'glob';
import YAML from 'yaml';
import { readConfigFile, type BundleSection, type ConfigFile } from '../config/index.ts';
import { renderDockerfile, renderDockerignore } from '../container/index.ts';
import { TiffinError } from '../errors/index.ts';
import { tagsToServe } from '../remote/index.ts';
import type { ModelTags } from '../service/context.ts';
import { loadServiceModule } from '../service/load-module.ts';
import type { ApiMap, Service } from '../service/service.ts';
import { digestFile, listTree, MANIFEST_FILE, ModelStore, newVersionId, type FileEntry } from '../store/index.ts';
import { BundleStore } from './bundle-store.ts';
import { bundleCode, installedVersion } from './code-bundle.ts';
import { BUNDLE_SCHEMA_VERSION, type BundleManifest, type PinnedModel } from './manifest.ts';
import { tiffinPackage, writeNpmFiles } from './npm-deps.ts';

export interface BuildOptions {
  /** The project folder: holds tiffin.yaml (default: the current folder). */
  dir?: string;
  /** The config file, relative to `dir` (default tiffin.yaml). */
  config?: string;
  /** The new bundle's version (default: a generated, time-sortable id). */
  version?: string;
  /** Where the models come from (default: the local model store). */
  models?: ModelStore;
  /** Where the bundle goes (default: `$TIFFIN_HOME/bundles`). */
  bundles?: BundleStore;
  /** Called as each step starts. */
  onStep?: (step: number, total: number, text: string) => void;
}

/** The bundle's own layout (container/ and the serve command rely on it). */
export const BUNDLE_LAYOUT = { app: 'app', models: 'models', config: 'tiffin.yaml', entry: 'app/service.mjs' } as const;

/** Never copied by `include`, whatever the globs say. */
const ALWAYS_EXCLUDED = ['**/node_modules/**', '**/.git/**', '**/.tiffin/**'];
const STEPS = 7;

function buildFailed(message: string, details?: unknown): TiffinError {
  return new TiffinError('BUILD_FAILED', message, { details });
}

function readProject(dir: string, configName: string): { file: string; config: ConfigFile; service: string } {
  const file = resolve(dir, configName);
  if (!existsSync(file)) {
    throw buildFailed(`${file} does not exist: \`tiffin build\` reads the project's tiffin.yaml, which names the service (\`service: ./service.ts\`) and may hold a \`bundle:\` section (docs/shipping.md)`);
  }
  const config = readConfigFile(file, relative(process.cwd(), file) || file);
  if (config.service === undefined) throw buildFailed(`${file} names no service: add \`service: ./service.ts\` (the module to bundle)`);
  return { file, config, service: resolve(dirname(file), config.service) };
}

/** Model tags of a service and of every service it depends on, however deep (they run from the same bundle). */
function serviceModelTags(svc: Service<ModelTags, ApiMap>): string[] {
  return [...Object.values(svc.models), ...Object.values(svc.depends).flatMap((dep) => serviceModelTags(dep as Service<ModelTags, ApiMap>))];
}

/** True when the service or one it depends on declares tasks: their store needs better-sqlite3 at run time. */
function declaresTasks(svc: Service<ModelTags, ApiMap>): boolean {
  return svc.tasks.length > 0 || Object.values(svc.depends).some((dep) => declaresTasks(dep as Service<ModelTags, ApiMap>));
}

/** Optional peer dependencies of Tiffin that a framework's models need at run time (the adapters load them lazily). */
const FRAMEWORK_PACKAGES: Record<string, readonly string[]> = {
  transformers: ['@huggingface/transformers'],
  tfjs: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter'],
};

/**
 * The packages Tiffin itself loads only on demand that this bundle needs, at the versions installed in the project:
 * better-sqlite3 when a service declares tasks, and the framework packages of the pinned models.
 */
function onDemandDependencies(svc: Service<ModelTags, ApiMap>, frameworks: Set<string>, projectDir: string): Record<string, string> {
  const wanted: [string, string][] = [];
  if (declaresTasks(svc)) wanted.push(['better-sqlite3', 'the service declares tasks, whose store needs']);
  for (const framework of frameworks) for (const pkg of FRAMEWORK_PACKAGES[framework] ?? []) wanted.push([pkg, `its ${framework} models need`]);
  const out: Record<string, string> = {};
  for (const [pkg, why] of wanted) {
    const version = installedVersion(pkg, projectDir);
    if (version === undefined) throw buildFailed(`${why} ${pkg}: run \`npm install ${pkg}\` in the project, then build again`, { missing: [pkg] });
    out[pkg] = version;
  }
  return out;
}

/** The tags the bundle must hold: the service's (and its dependencies') models, the ones `models:` serves, and `bundle.models`. */
function modelRefs(svc: Service<ModelTags, ApiMap>, config: ConfigFile): string[] {
  const served = (config.models ?? []).flatMap(tagsToServe);
  return [...new Set([...serviceModelTags(svc), ...served, ...(config.bundle?.models ?? [])])];
}

/** Copies each referenced model version (verified first) into `<dir>/models/`, a model store of its own. */
async function pinModels(refs: string[], store: ModelStore, dir: string): Promise<PinnedModel[]> {
  const pinned: PinnedModel[] = [];
  for (const ref of refs) {
    const { manifest, dir: source } = await store.get(ref);
    const [report] = await store.verify(`${manifest.name}:${manifest.version}`);
    if (!report?.ok) throw buildFailed(`model ${ref} is damaged in ${store.root} (${report?.problems.slice(0, 3).join('; ')}); fix or re-save it, then build again`);
    const target = join(dir, BUNDLE_LAYOUT.models, manifest.name, manifest.version);
    if (!pinned.some((p) => p.name === manifest.name && p.version === manifest.version)) {
      for (const path of [MANIFEST_FILE, ...manifest.files.map((f) => f.path)]) {
        await mkdir(dirname(join(target, path)), { recursive: true });
        await copyFile(join(source, path), join(target, path));
      }
    }
    const digest = createHash('sha256').update(await readFile(join(target, MANIFEST_FILE))).digest('hex');
    pinned.push({ ref, name: manifest.name, version: manifest.version, digest });
  }
  return pinned;
}

/** Copies the files `include` matches (less `exclude`) from the project into app/, keeping their relative paths. */
async function copyIncluded(projectDir: string, section: BundleSection, appDir: string): Promise<string[]> {
  if (!section.include?.length) return [];
  const matches = await glob(section.include, { cwd: projectDir, nodir: true, dot: false, ignore: [...ALWAYS_EXCLUDED, ...(section.exclude ?? [])], follow: false });
  const copied: string[] = [];
  for (const rel of matches.sort()) {
    const to = join(appDir, rel);
    if (relative(appDir, to).startsWith('..')) throw buildFailed(`include pattern matched ${rel}, outside the project folder ${projectDir}`);
    if (existsSync(to)) throw buildFailed(`include matched ${rel}, which would overwrite the bundled code; rename it or exclude it`);
    await mkdir(dirname(to), { recursive: true });
    await copyFile(join(projectDir, rel), to);
    copied.push(rel);
  }
  return copied;
}

/**
 * The config the bundle serves with: the project's tiffin.yaml as written (validated above), less `bundle:`, with
 * `service:` pointing at the bundled code.
 */
async function bundleConfig(file: string): Promise<string> {
  const { bundle: _bundle, service: _service, ...rest } = (YAML.parse(await readFile(file, 'utf8')) ?? {}) as Record<string, unknown>;
  return `# Written by tiffin build from ${relative(process.cwd(), file) || file}; TIFFIN_* variables and flags still override it.\n${YAML.stringify({ service: `./${BUNDLE_LAYOUT.entry}`, ...rest })}`;
}

async function listFiles(dir: string): Promise<FileEntry[]> {
  const tree = await listTree(dir);
  if (tree.others.length > 0) throw buildFailed(`the bundle would hold ${tree.others[0]!.path}, a ${tree.others[0]!.kind}; bundles hold only regular files`);
  const files: FileEntry[] = [];
  for (const path of tree.files) files.push({ path, ...(await digestFile(join(dir, ...path.split('/')))) });
  return files;
}

/** Builds the project in `options.dir` into a new bundle and returns its manifest. */
export async function buildBundle(options: BuildOptions = {}): Promise<BundleManifest> {
  const step = (n: number, text: string) => options.onStep?.(n, STEPS, text);
  const projectDir = resolve(options.dir ?? '.');
  step(1, 'reading tiffin.yaml');
  const project = readProject(projectDir, options.config ?? 'tiffin.yaml');
  const section = project.config.bundle ?? {};
  step(2, `loading the service ${relative(projectDir, project.service)}`);
  const svc = await loadServiceModule(project.service);
  const tiffin = tiffinPackage();
  const store = options.models ?? new ModelStore();
  const bundles = options.bundles ?? new BundleStore();
  const name = section.name ?? svc.name;
  const version = options.version ?? newVersionId();
  const configDir = dirname(project.file);

  return bundles.add(async (dir) => {
    step(3, 'bundling the code with esbuild');
    const code = await bundleCode(project.service, join(dir, BUNDLE_LAYOUT.app), tiffin.root);
    step(4, 'pinning the models');
    const models = await pinModels(modelRefs(svc, project.config), store, dir);
    const frameworks = new Set(await Promise.all(models.map(async (m) => (await store.get(`${m.name}:${m.version}`)).manifest.framework)));
    step(5, 'copying included files');
    await copyIncluded(configDir, section, join(dir, BUNDLE_LAYOUT.app));
    step(6, 'writing package.json and package-lock.json (npm)');
    const dependencies = { ...code.dependencies, ...onDemandDependencies(svc, frameworks, dirname(project.service)) };
    await writeNpmFiles(dir, tiffin, dependencies, `${name}:${version}, built by tiffin build`, projectDir);
    step(7, 'writing tiffin.yaml and the Dockerfile');
    const createdAt = new Date().toISOString();
    const labels = { ...(section.labels ?? {}) };
    const env = { ...(section.env ?? {}) };
    const container = { ...(section.container?.baseImage ? { baseImage: section.container.baseImage } : {}), systemPackages: section.container?.systemPackages ?? [], setup: section.container?.setup ?? [] };
    await writeFile(join(dir, BUNDLE_LAYOUT.config), await bundleConfig(project.file));
    await writeFile(join(dir, 'Dockerfile'), renderDockerfile({ name, version, createdAt, labels, env, ...container }));
    await writeFile(join(dir, '.dockerignore'), renderDockerignore());
    const files = await listFiles(dir);
    return {
      schemaVersion: BUNDLE_SCHEMA_VERSION,
      name,
      version,
      createdAt,
      ...(section.description ? { description: section.description } : svc.description ? { description: svc.description.split('\n')[0]! } : {}),
      labels,
      service: { name: svc.name, entry: BUNDLE_LAYOUT.entry, apis: svc.apis.map((a) => a.route) },
      models,
      tiffin: { version: tiffin.version, node: tiffin.node },
      dependencies,
      env,
      container,
      size: files.reduce((sum, f) => sum + f.size, 0),
      files,
    } satisfies BundleManifest;
  });
}
