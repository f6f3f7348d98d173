// Bundles a service module and the user code it imports into one ESM file with esbuild, so a bundle needs no
// TypeScript toolchain. npm packages stay imports (resolved from the bundle's node_modules, listed in its
// package.json); imports of Tiffin's own source become imports of the `tiffin` package the bundle vendors.
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import * as esbuild from 'esbuild';
import { TiffinError } from '../errors/index.ts';

/** Where Tiffin's public entry points live, in its source (running under tsx) and in its build. */
const PUBLIC_ENTRIES: Record<string, string> = {
  'src/index.ts': 'tiffin',
  'dist/index.js': 'tiffin',
  'src/client/index.ts': 'tiffin/client',
  'dist/client/index.js': 'tiffin/client',
};

export interface CodeBundle {
  /** Bare npm packages the bundled code imports (not `tiffin`, not Node's built-ins), with the installed versions. */
  dependencies: Record<string, string>;
  /** The bundled files written, relative to the output folder. */
  files: string[];
}

function buildFailed(message: string, details?: unknown): TiffinError {
  return new TiffinError('BUILD_FAILED', message, { details });
}

/** The package a bare specifier names: `zod/v4` is zod, `@aws-sdk/client-s3/x` is @aws-sdk/client-s3. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

const BUILTINS = new Set(builtinModules);

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]!);
}

/** The version of `pkg` that Node would load from `fromDir`: the nearest node_modules/<pkg>/package.json upwards. */
export function installedVersion(pkg: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const file = join(dir, 'node_modules', ...pkg.split('/'), 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Rewrites imports that reach into Tiffin's own folder (as this repository's examples do) to the `tiffin` package. */
function tiffinSourcePlugin(tiffinRoot: string): esbuild.Plugin {
  return {
    name: 'tiffin-source',
    setup(build) {
      build.onResolve({ filter: /^[./]/ }, (args) => {
        const target = resolve(args.resolveDir, args.path);
        const rel = relative(tiffinRoot, target).split(sep).join('/');
        if (!rel.startsWith('src/') && !rel.startsWith('dist/')) return undefined;
        const entry = PUBLIC_ENTRIES[rel];
        if (entry) return { path: entry, external: true };
        return {
          errors: [{ text: `${args.path} is Tiffin's internal module ${rel}; a bundle may only use Tiffin's public API: import from 'tiffin' (or 'tiffin/client')` }],
        };
      });
    },
  };
}

/**
 * Bundles `entry` into `<outDir>/service.mjs` (with a source map). `tiffinRoot` is the folder of Tiffin's
 * package.json. Fails with BUILD_FAILED naming esbuild's errors, or a package the code imports that is not installed.
 */
export async function bundleCode(entry: string, outDir: string, tiffinRoot: string): Promise<CodeBundle> {
  const outfile = join(outDir, 'service.mjs');
  let result: esbuild.BuildResult<{ metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      // Bundled CommonJS code may call require(); an ES module has none unless it makes one.
      banner: { js: "import { createRequire as __tiffinRequire } from 'node:module'; const require = __tiffinRequire(import.meta.url);" },
      plugins: [tiffinSourcePlugin(tiffinRoot)],
    });
  } catch (err) {
    const errors = (err as esbuild.BuildFailure).errors ?? [];
    const shown = errors.slice(0, 5).map((e) => (e.location ? `${e.location.file}:${e.location.line}: ${e.text}` : e.text));
    throw buildFailed(`esbuild could not bundle ${entry}: ${shown.join('; ') || String(err)}`, { errors: shown });
  }
  const imports = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path));
  const dependencies: Record<string, string> = {};
  const missing: string[] = [];
  for (const specifier of new Set(imports)) {
    if (isBuiltin(specifier)) continue;
    const pkg = packageOf(specifier);
    if (pkg === 'tiffin' || pkg in dependencies) continue;
    const version = installedVersion(pkg, dirname(entry));
    if (version === undefined) missing.push(pkg);
    else dependencies[pkg] = version;
  }
  if (missing.length > 0) {
    throw buildFailed(`${entry} imports ${missing.join(', ')}, not installed beside it; run \`npm install ${missing.join(' ')}\` in the project, then build again`, { missing });
  }
  return { dependencies, files: Object.keys(result.metafile.outputs).map((p) => relative(outDir, resolve(p)).split(sep).join('/')) };
}
