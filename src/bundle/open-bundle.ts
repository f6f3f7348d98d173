// Opens a bundle to serve it: finds what `tiffin serve <arg>` names (a bundle folder, a .tiffinbundle archive, a
// tag in the BundleStore), checks every listed file against bundle.yaml, and makes its bare imports resolvable.
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { register } from 'node:module';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TiffinError } from '../errors/index.ts';
import { checkListedFiles, isValidName, parseTag } from '../store/index.ts';
import { BundleStore } from './bundle-store.ts';
import { installedVersion } from './code-bundle.ts';
import { BUNDLE_EXTENSION, BUNDLE_FILE, parseBundleManifest, type BundleManifest } from './manifest.ts';
import { tiffinPackage } from './npm-deps.ts';

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
}

/** Looks like `name` or `name:version` rather than a file path. */
function looksLikeTag(arg: string): boolean {
  if (/[/\\]/.test(arg) || /\.(m?[jt]s|cjs|cts|mts)$/.test(arg)) return false;
  try {
    return isValidName(parseTag(arg).name);
  } catch {
    return false;
  }
}

/**
 * The bundle `arg` names, or undefined when it names none (a service module, say). A .tiffinbundle archive is
 * imported into the store first (checked whole, like `tiffin bundles import`); one already there is reused.
 */
export async function findBundle(arg: string, store: BundleStore = new BundleStore()): Promise<OpenedBundle | undefined> {
  const path = resolve(arg);
  if (existsSync(path)) {
    if (statSync(path).isDirectory()) {
      if (!existsSync(join(path, BUNDLE_FILE))) return undefined;
      return { dir: path, manifest: parseBundleManifest(await readFile(join(path, BUNDLE_FILE), 'utf8'), join(path, BUNDLE_FILE)) };
    }
    if (!path.endsWith(BUNDLE_EXTENSION)) return undefined;
    const imported = await store.importFrom(path).catch(async (err: unknown) => {
      if (!(err instanceof TiffinError) || err.code !== 'BUNDLE_EXISTS') throw err;
      return (await store.get(String((err.details as { tag: string }).tag))).manifest;
    });
    return store.get(`${imported.name}:${imported.version}`);
  }
  if (!looksLikeTag(arg)) return undefined;
  return store.get(arg);
}

/** Files only an image build reads; an image does not copy them in, so serving does not look for them. */
const BUILD_ONLY_FILES = new Set(['Dockerfile', '.dockerignore']);

/**
 * INTEGRITY_MISMATCH unless every file bundle.yaml lists is there with its size and sha256 (`forServing`: all but
 * the Dockerfile and .dockerignore, which an image leaves out).
 */
export async function checkBundle(bundle: OpenedBundle, { forServing = false } = {}): Promise<void> {
  const files = forServing ? bundle.manifest.files.filter((f) => !BUILD_ONLY_FILES.has(f.path)) : bundle.manifest.files;
  const problems = await checkListedFiles(bundle.dir, files);
  if (problems.length === 0) return;
  throw new TiffinError('INTEGRITY_MISMATCH', `Refusing to serve ${bundle.manifest.name}:${bundle.manifest.version} from ${bundle.dir}: its files no longer match ${BUNDLE_FILE} (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}). Rebuild it, or import it again from its archive.`, {
    details: { problems },
  });
}

/**
 * Without node_modules in the bundle (served from the store, not from an image), its bare imports resolve from the
 * running tiffin package. Returns warnings for each dependency whose installed version differs from the bundle's.
 */
export function linkDependencies(bundle: OpenedBundle): string[] {
  if (existsSync(join(bundle.dir, 'node_modules'))) return [];
  const tiffin = tiffinPackage();
  register(new URL('./resolve-fallback.js', import.meta.url), {
    data: { bundleUrl: pathToFileURL(bundle.dir + '/').href, fallbackParent: pathToFileURL(join(tiffin.root, 'package.json')).href },
  });
  const wanted: Record<string, string> = { ...bundle.manifest.dependencies, tiffin: bundle.manifest.tiffin.version };
  const warnings: string[] = [];
  for (const [pkg, version] of Object.entries(wanted)) {
    const have = pkg === 'tiffin' ? tiffin.version : installedVersion(pkg, tiffin.root);
    if (have !== version) warnings.push(`the bundle was built with ${pkg}@${version}; this tiffin has ${have === undefined ? 'none installed' : `${pkg}@${have}`} (an image built from the bundle installs ${version})`);
  }
  return warnings;
}
