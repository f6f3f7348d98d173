// Writes a build context: a copy of the bundle folder plus the Dockerfile and .dockerignore. It checks that the
// layout the Dockerfile copies is there but verifies no digests (the caller has already checked the bundle).
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import { renderDockerfile, renderDockerignore, type DockerfileOptions } from './dockerfile.ts';

/** What the Dockerfile's COPY lines name; models/ is created empty when a bundle pins no models. */
export const REQUIRED_ENTRIES = ['bundle.yaml', 'tiffin.yaml', 'package.json', 'package-lock.json', '.npmrc', 'vendor', 'app'] as const;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function assertEmptyOrAbsent(outDir: string): Promise<void> {
  const entries = await readdir(outDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new TiffinError('BUILD_FAILED', `Cannot use ${outDir} as the build context: ${err.message}`, { cause: err });
  });
  if (entries.length > 0) {
    throw new TiffinError('BUILD_FAILED', `The context folder ${outDir} is not empty; remove it or name a new folder.`, { details: { outDir } });
  }
}

/**
 * Copies files with modes a+r (a+rx for folders and executables) and no write bit beyond the owner: the image
 * runs as a user that does not own them, so they must be readable, and an umask-077 checkout would not be.
 */
async function copyTree(from: string, to: string, root: string, files: string[]): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o755 });
  await chmod(to, 0o755);
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    const target = join(to, entry.name);
    if (entry.isDirectory()) {
      await copyTree(source, target, root, files);
    } else if (entry.isFile()) {
      await copyFile(source, target, constants.COPYFILE_EXCL);
      const executable = ((await lstat(source)).mode & 0o111) !== 0;
      await chmod(target, executable ? 0o755 : 0o644);
      files.push(relative(root, target).split(sep).join('/'));
    } else {
      // A link could point anywhere on the build machine; a bundle from `tiffin build` holds none.
      throw new TiffinError('BUILD_FAILED', `The bundle holds ${relative(root, source)}, which is not a plain file or folder; rebuild it with \`tiffin build\`.`);
    }
  }
}

/**
 * Copies bundleDir into outDir (absent or empty). `tiffin build` already wrote a Dockerfile and .dockerignore
 * into the bundle; pass `dockerfile` to write fresh ones instead (for a bundle without them, or new options).
 * Returns the context's files, relative to outDir, sorted.
 */
export async function writeBuildContext(bundleDir: string, outDir: string, dockerfile?: DockerfileOptions): Promise<string[]> {
  const required: string[] = [...REQUIRED_ENTRIES, ...(dockerfile ? [] : ['Dockerfile'])];
  const missing = [];
  for (const entry of required) if (!(await exists(join(bundleDir, entry)))) missing.push(entry);
  if (missing.length > 0) {
    throw new TiffinError('BUILD_FAILED', `${bundleDir} is not a complete bundle: it lacks ${missing.join(', ')}. Rebuild it with \`tiffin build\`.`, {
      details: { bundleDir, missing },
    });
  }
  // Render first: a bad value in tiffin.yaml should fail before anything is copied.
  const generated = dockerfile ? { Dockerfile: renderDockerfile(dockerfile), '.dockerignore': renderDockerignore() } : {};
  await assertEmptyOrAbsent(outDir);
  const files: string[] = [];
  await copyTree(bundleDir, outDir, outDir, files);
  if (!(await exists(join(outDir, 'models')))) await mkdir(join(outDir, 'models'), { mode: 0o755 });
  for (const [name, text] of Object.entries(generated)) {
    await writeFile(join(outDir, name), text, { mode: 0o644 });
    if (!files.includes(name)) files.push(name);
  }
  return files.sort();
}
