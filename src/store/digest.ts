// Owns: streaming sha256 digests of files, and copying a file while hashing it in the same pass.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

const CHUNK = 1 << 20;

export interface Digest {
  size: number;
  sha256: string;
}

/** The size and sha256 (lowercase hex) of a file, read as a stream. */
export async function digestFile(path: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) {
    const buf = chunk as Buffer;
    hash.update(buf);
    size += buf.length;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Writes every chunk of `source` to a new file `dest` (which must not exist), hashing on the way,
 * then fsyncs it. Returns what was written.
 */
export async function writeHashed(source: AsyncIterable<unknown>, dest: string): Promise<Digest> {
  const hash = createHash('sha256');
  let size = 0;
  const handle = await open(dest, 'wx');
  try {
    for await (const chunk of source) {
      const buf = chunk as Buffer;
      hash.update(buf);
      size += buf.length;
      for (let off = 0; off < buf.length; ) off += (await handle.write(buf, off, buf.length - off)).bytesWritten;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { size, sha256: hash.digest('hex') };
}

/** Copies `src` to the new file `dest` and returns its size and sha256 from the same read. */
export async function copyHashed(src: string, dest: string): Promise<Digest> {
  return writeHashed(createReadStream(src, { highWaterMark: CHUNK }), dest);
}

/** Writes `data` to the new file `path` (which must not exist) and fsyncs it. */
export async function writeFileSynced(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
