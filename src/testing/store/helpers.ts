// Test helpers for the store: temp dirs, sample signatures and files, whole-tree snapshots, hand-built tar.gz archives.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile, mkdir, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import type { Signature } from '../../runtime/tensor.ts';
import type { ModelManifest } from '../../store/manifest.ts';
import { MANIFEST_SCHEMA_VERSION, stringifyManifest } from '../../store/manifest.ts';

/** The repository root (where `--import tsx` resolves). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SAVE_CHILD = fileURLToPath(new URL('./save-child.ts', import.meta.url));

/** A fresh temp folder, removed when the test ends. */
export async function tempDir(t: { after: (fn: () => Promise<void>) => void }, prefix = 'tiffin-store-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function sampleSignatures(): Record<string, Signature> {
  return {
    run: {
      batchable: true,
      batchDim: 0,
      inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 4] }],
      outputs: [{ name: 'y', dtype: 'float32', shape: [-1, 3] }],
    },
  };
}

/** Writes a file of random bytes (random: gzip cannot shrink it, so archives stay under tar's bomb ratio). */
export async function randomFile(path: string, size = 1024): Promise<Buffer> {
  const data = randomBytes(size);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
  return data;
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every path under `dir` (folders end with '/'), sorted; '' when the folder does not exist. */
export async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (abs: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(join(abs, e.name), r);
      } else {
        out.push(`${r} (${(await lstat(join(abs, e.name))).size})`);
      }
    }
  };
  await walk(dir, '');
  return out.sort();
}

export interface RawEntry {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO';
  data?: Buffer | string;
  linkpath?: string;
}

/** Builds a gzip tar by hand, byte by byte, so entries can be anything (tar.c would sanitize '../' and '/'). */
export function buildTarGz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const type = e.type ?? 'File';
    const header = new Header({
      path: e.path,
      type,
      size: type === 'File' ? data.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      ...(e.linkpath ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && data.length > 0) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** A valid manifest (as YAML text) describing `files`. */
export function manifestText(name: string, version: string, files: { path: string; data: Buffer | string }[], entry = files[0]?.path ?? 'model.bin'): string {
  const entries = files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.data), sha256: sha256(f.data) }));
  const manifest: ModelManifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    name,
    version,
    framework: 'custom',
    frameworkVersion: '1.0.0',
    entry,
    createdAt: new Date().toISOString(),
    size: entries.reduce((s, f) => s + f.size, 0),
    labels: {},
    metadata: {},
    signatures: sampleSignatures(),
    files: entries,
  };
  return stringifyManifest(manifest);
}
