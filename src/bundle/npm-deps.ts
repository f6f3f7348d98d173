// Writes what `npm ci --omit=dev` needs to install a bundle's runtime: the Tiffin package itself, packed into
// vendor/ (so the bundle does not depend on a registry holding this exact build), a package.json with only the
// packages the bundled code imports, and a package-lock.json that pins every transitive version.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TiffinError } from '../errors/index.ts';

const run = promisify(execFile);

/** onnxruntime-node's install script fetches CUDA files from the internet unless told not to. */
export const NPMRC = 'onnxruntime-node-install=skip\n';

export interface TiffinPackage {
  /** The folder of Tiffin's package.json. */
  root: string;
  version: string;
  /** The Node versions it supports (its engines.node). */
  node: string;
}

/** The Tiffin package this code belongs to (the folder above src/ or dist/). */
export function tiffinPackage(): TiffinPackage {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string; engines?: { node?: string } };
      if (pkg.name === 'tiffin') return { root: dir, version: pkg.version ?? '0.0.0', node: pkg.engines?.node ?? '>=20' };
    } catch {
      // No package.json here: keep climbing.
    }
  }
  throw new TiffinError('INTERNAL', 'cannot find the package.json of the tiffin package this command runs from');
}

async function npm(args: string[], cwd: string, what: string): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_update_notifier: 'false' } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    const tail = (e.stderr ?? e.message).trim().split('\n').filter((l) => !l.includes('Unknown project config')).slice(-8).join('\n');
    throw new TiffinError('BUILD_FAILED', `${what} failed (npm ${args.join(' ')} in ${cwd}):\n${tail}`, { cause: err });
  }
}

/**
 * Starts the bundle's lockfile from the first of `folders` that has one (the project's, then the one Tiffin was
 * installed with): npm then keeps the versions already installed, and so in the npm cache, wherever they satisfy
 * the ranges, instead of resolving each range to the newest release on the registry, which an offline `npm ci` of
 * the image would not find (measured: a new undici-types release broke the offline install of a fresh context).
 */
async function seedLockfile(dir: string, folders: string[]): Promise<void> {
  for (const folder of folders) {
    try {
      await copyFile(join(folder, 'package-lock.json'), join(dir, 'package-lock.json'));
      return;
    } catch {
      // None there: try the next.
    }
  }
}

/**
 * Packs Tiffin into `<dir>/vendor/`, writes package.json (Tiffin plus `dependencies`) and resolves package-lock.json
 * with npm (from its cache when it can, seeded from `projectDir`'s lockfile or Tiffin's; scripts never run). Returns the vendored tarball's path inside `dir`.
 */
export async function writeNpmFiles(dir: string, tiffin: TiffinPackage, dependencies: Record<string, string>, description: string, projectDir?: string): Promise<string> {
  const vendor = join(dir, 'vendor');
  await mkdir(vendor, { recursive: true });
  const packed = JSON.parse(await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', vendor], tiffin.root, 'packing tiffin')) as { filename: string }[];
  const tarball = `vendor/${packed[0]!.filename}`;
  const pkg = {
    name: 'tiffin-bundle',
    version: '0.0.0',
    private: true,
    description,
    engines: { node: tiffin.node },
    dependencies: { ...dependencies, tiffin: `file:${tarball}` },
  };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(join(dir, '.npmrc'), NPMRC);
  await seedLockfile(dir, projectDir ? [projectDir, tiffin.root] : [tiffin.root]);
  await npm(['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], dir, 'resolving the lockfile');
  return tarball;
}
