// Owns: the store's scratch area `<root>/.staging/<pid>-<random>`: folders being filled before they are renamed
// into place, and folders moved aside before they are deleted; plus removing what dead processes left there.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

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
