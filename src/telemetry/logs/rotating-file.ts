// Appends lines to `<dir>/<base>.<n>.jsonl`, starting file n+1 when the next line would pass the size
// limit and deleting the oldest beyond the retention count. Numbers only grow, so a reader tailing a file
// never sees it renamed under it; each process start opens a fresh file, so a line cut short by a crash
// stays in the file it was cut in. Calls must not overlap: the owner serialises them.
import { mkdir, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

export interface RotatingFileOptions {
  dir: string;
  /** File name before `.<n>.jsonl`, for example 'data'. */
  base: string;
  /** A file is closed once the next line would take it past this size. One line bigger than this gets a file of its own. */
  maxFileBytes: number;
  /** Files kept, the one being written included. */
  maxFiles: number;
}

export class RotatingFile {
  private handle: FileHandle | undefined;
  private index = 0;
  private size = 0;
  private readonly pattern: RegExp;

  constructor(private readonly options: RotatingFileOptions) {
    this.pattern = new RegExp(`^${escapeRegExp(options.base)}\\.(\\d+)\\.jsonl$`);
  }

  /** Path of the file now being written (after the first append). */
  get currentPath(): string | undefined {
    return this.handle ? this.pathOf(this.index) : undefined;
  }

  /** Appends whole lines (each ending in '\n'), rotating between lines as needed. */
  async append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    if (!this.handle) await this.openNext();
    let chunk: string[] = [];
    let chunkBytes = 0;
    for (const line of lines) {
      const bytes = Buffer.byteLength(line);
      if (this.size + chunkBytes > 0 && this.size + chunkBytes + bytes > this.options.maxFileBytes) {
        await this.writeChunk(chunk, chunkBytes);
        chunk = [];
        chunkBytes = 0;
        await this.openNext();
      }
      chunk.push(line);
      chunkBytes += bytes;
    }
    await this.writeChunk(chunk, chunkBytes);
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = undefined;
    await h?.close();
  }

  /** Indexes of this base's files in the folder, ascending. */
  async existing(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.options.dir);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const name of names) {
      const m = this.pattern.exec(name);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  private async writeChunk(chunk: string[], bytes: number): Promise<void> {
    if (chunk.length === 0 || !this.handle) return;
    await this.handle.write(chunk.join(''));
    this.size += bytes;
  }

  private async openNext(): Promise<void> {
    await this.close();
    if (this.index === 0) {
      await mkdir(this.options.dir, { recursive: true });
      const found = await this.existing();
      this.index = (found.at(-1) ?? 0) + 1;
    } else {
      this.index += 1;
    }
    // 'wx': a second process on the same folder fails loudly instead of interleaving lines.
    this.handle = await open(this.pathOf(this.index), 'wx');
    this.size = 0;
    await this.prune();
  }

  private async prune(): Promise<void> {
    const keepFrom = this.index - this.options.maxFiles + 1;
    for (const n of await this.existing()) {
      if (n < keepFrom) await unlink(this.pathOf(n)).catch(() => undefined);
    }
  }

  private pathOf(n: number): string {
    return join(this.options.dir, `${this.options.base}.${n}.jsonl`);
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
