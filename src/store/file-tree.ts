// Owns: walking folders: copying a user's model files (a file or a folder) into a staging folder with their
// digests, and listing what a version folder really holds (for verify).
import { readdir, realpath, stat, mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import { copyHashed } from './digest.ts';
import type { FileEntry } from './manifest.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { relativePathProblem } from './relative-path.ts';

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sourceError(message: string, details: Record<string, unknown>): TiffinError {
  return new TiffinError('MODEL_INVALID', message, { details });
}

function checkStoredPath(rel: string, sourcePath: string): void {
  const problem = relativePathProblem(rel);
  if (problem) throw sourceError(`Cannot store ${JSON.stringify(rel)} from ${sourcePath}: the path ${problem}.`, { path: rel, sourcePath });
  if (rel === MANIFEST_FILE) {
    throw sourceError(`${sourcePath} holds a file named ${MANIFEST_FILE}, which the store reserves for its manifest; rename or remove it.`, { path: rel, sourcePath });
  }
}

/**
 * Copies `sourcePath` (one file, or a folder copied recursively, following symbolic links) into the existing,
 * empty folder `destDir`. Returns the entries sorted by path and whether the source was a single file.
 * Throws MODEL_INVALID when the source is missing, empty, or holds something that is not a regular file.
 */
export async function copySource(sourcePath: string, destDir: string): Promise<{ files: FileEntry[]; singleFile: boolean }> {
  let info;
  try {
    info = await stat(sourcePath);
  } catch (err) {
    throw sourceError(`Cannot read the model files at ${sourcePath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}. Check the path.`, { sourcePath });
  }
  if (info.isFile()) {
    const rel = basename(sourcePath);
    checkStoredPath(rel, sourcePath);
    const digest = await copyHashed(sourcePath, join(destDir, rel));
    return { files: [{ path: rel, ...digest }], singleFile: true };
  }
  if (!info.isDirectory()) throw sourceError(`${sourcePath} is neither a file nor a folder.`, { sourcePath });

  const files: FileEntry[] = [];
  const walk = async (dir: string, rel: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const real = await realpath(dir);
    if (ancestors.has(real)) throw sourceError(`${dir} links back to a folder that contains it (a symbolic link loop).`, { sourcePath, path: rel });
    const chain = new Set(ancestors).add(real);
    const names = (await readdir(dir)).sort(comparePaths);
    for (const name of names) {
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const child = join(dir, name);
      checkStoredPath(childRel, sourcePath);
      let childInfo;
      try {
        childInfo = await stat(child);
      } catch {
        throw sourceError(`Cannot read ${child} (a broken symbolic link?).`, { sourcePath, path: childRel });
      }
      if (childInfo.isDirectory()) {
        await mkdir(join(destDir, childRel));
        await walk(child, childRel, chain);
      } else if (childInfo.isFile()) {
        files.push({ path: childRel, ...(await copyHashed(child, join(destDir, childRel))) });
      } else {
        throw sourceError(`${child} is not a regular file (a socket, device or pipe); a model holds only files and folders.`, { sourcePath, path: childRel });
      }
    }
  };
  await walk(sourcePath, '', new Set());
  if (files.length === 0) throw sourceError(`${sourcePath} holds no files.`, { sourcePath });
  files.sort((a, b) => comparePaths(a.path, b.path));
  return { files, singleFile: false };
}

export interface TreeListing {
  /** Regular files, relative paths with '/'. */
  files: string[];
  /** Anything else found (symbolic links, sockets...), with its kind. */
  others: { path: string; kind: string }[];
}

/** Lists a folder recursively without following links. */
export async function listTree(dir: string): Promise<TreeListing> {
  const out: TreeListing = { files: [], others: [] };
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const entry of await readdir(abs, { withFileTypes: true })) {
      const childRel = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(join(abs, entry.name), childRel);
      else if (entry.isFile()) out.files.push(childRel);
      else out.others.push({ path: childRel, kind: entry.isSymbolicLink() ? 'symbolic link' : 'special file' });
    }
  };
  await walk(dir, '');
  out.files.sort(comparePaths);
  return out;
}
