// The checkpoint beside the output: how many input rows have their output (or error) durably written, and the
// byte lengths of both files at that point. Written atomically (temp file, fsync, rename) after fsyncing the outputs.
import { createHash } from 'node:crypto';
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { TiffinError } from '../errors/index.ts';

export interface Checkpoint {
  /** What the job is: a changed input, service or api refuses to resume. */
  identity: { input: string; size: number; mtimeMs: number; head: string; service: string; api: string; output: string; shard?: string };
  rowsDone: number;
  inputOffset: number;
  outputBytes: number;
  errorsBytes: number;
  ok: number;
  failed: number;
  columns?: string[];
}

export async function inputFingerprint(path: string): Promise<{ size: number; mtimeMs: number; head: string }> {
  const s = await stat(path);
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(s.size, 1 << 20));
    await fh.read(buf, 0, buf.length, 0);
    return { size: s.size, mtimeMs: s.mtimeMs, head: createHash('sha256').update(buf).digest('hex') };
  } finally {
    await fh.close();
  }
}

export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as Checkpoint;
  } catch {
    throw new TiffinError('CHECKPOINT_MISMATCH', `the checkpoint ${path} is not valid JSON; pass --restart to start over`);
  }
}

/** Refuses to resume a different job, naming what changed. */
export function checkResumable(saved: Checkpoint, identity: Checkpoint['identity'], path: string): void {
  const changed = (Object.keys(identity) as (keyof Checkpoint['identity'])[]).filter((k) => saved.identity[k] !== identity[k]);
  if (changed.length === 0) return;
  throw new TiffinError('CHECKPOINT_MISMATCH', `the checkpoint ${path} belongs to another job (${changed.join(', ')} changed since it was written); pass --restart to start over, or remove it`, { details: { changed } });
}

export async function writeCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(cp));
  const fh = await open(tmp, 'r+');
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
}
