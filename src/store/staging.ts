// Owns: the store's scratch area `<root>/.staging/<pid>-<random>`: folders being filled before they are renamed
// into place, and folders moved aside before they are deleted; plus removing what dead processes left there, and
// naming the disk's refusals (full, read-only) while writing there.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, statfs } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { TiffinError } from '../errors/index.ts';

/** Folder under the store root; its leading dot keeps it out of the model namespace (names start with [a-z0-9]). */
export const STAGING_DIR = '.staging';

const ENTRY_PATTERN = /^([1-9][0-9]*)-[0-9a-z.-]+$/;

export function stagingRoot(root: string): string {
  return join(root, STAGING_DIR);
}

/**
 * A fresh, unused path in the staging area named after this process (the folder itself is not created,
 * so it can be the target of a rename). `suffix` only helps a person reading the folder.
 */
export async function stagingPath(root: string, suffix = ''): Promise<string> {
  const dir = stagingRoot(root);
  await mkdir(dir, { recursive: true });
  return join(dir, `${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** Creates and returns an empty staging folder owned by this process. */
export async function makeStagingDir(root: string): Promise<string> {
  const path = await stagingPath(root);
  await mkdir(path);
  return path;
}

/** Whether a process with this id exists (EPERM means it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes staging entries whose owning process is gone (a save or delete killed half-way).
 * Entries of live processes, this one included, are never touched. Returns the paths removed.
 */
export async function removeDeadStaging(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(stagingRoot(root));
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const match = ENTRY_PATTERN.exec(name);
    if (!match || isProcessAlive(Number(match[1]))) continue;
    const path = join(stagingRoot(root), name);
    await removeQuietly(path);
    removed.push(path);
  }
  return removed;
}

/** rm -rf that never throws (a concurrent cleaner may be removing the same folder). */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    // Best effort: whatever is left is found again by the next cleanup.
  }
}

/** fsyncs a folder so a rename into it survives a crash. Best effort: some platforms cannot open folders. */
export async function fsyncDir(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Not supported here (for example on Windows); durability then rests on the OS.
  }
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The TiffinError for a write the store's disk refused, naming the store folder and what to do, or undefined when
 * `err` is something else. ENOSPC and EROFS can only come from writing; EACCES and EPERM count only for a path
 * inside the store (not, say, an unreadable source file).
 */
export function storeWriteFault(err: unknown, root: string, action: string): TiffinError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = e?.code;
  const details = { root, errno: code, syscall: e?.syscall, path: e?.path };
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new TiffinError('STORE_NO_SPACE', `Cannot ${action}: no space left on device for the model store ${root} (${code}). Nothing was stored; free some space there (or delete unused versions), or point TIFFIN_HOME at a larger disk, then try again.`, { details, cause: err });
  }
  if (code === 'EROFS' || ((code === 'EACCES' || code === 'EPERM') && (e?.path === undefined || isInside(e.path, root)))) {
    const why = code === 'EROFS' ? 'is on a read-only file system' : 'is not writable by this process';
    return new TiffinError('STORE_READ_ONLY', `Cannot ${action}: the model store ${root} ${why} (${code}${e?.path ? ` on ${e.path}` : ''}). Nothing was changed; reads still work. Mount it read-write or fix its permissions, or point TIFFIN_HOME at a writable folder.`, { details, cause: err });
  }
  return undefined;
}

/** Bytes free to unprivileged writers on the disk holding `path`, or undefined where statfs is not supported. */
export async function freeBytes(path: string): Promise<number | undefined> {
  try {
    const s = await statfs(path);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
