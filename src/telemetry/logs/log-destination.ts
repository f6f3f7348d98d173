// Where JSON log lines go by default: a file descriptor (stdout), written in large chunks off the event loop.
// Lines are encoded straight into a preallocated buffer and each full chunk is handed to the thread pool with
// one fs.write. Kept instead of pino's own destination (sonic-boom) for a measured end-to-end gain: with the
// access log as the only telemetry on, `BENCH_ON=log npm run bench -- telemetry-cost` kept 0.982 of the
// throughput with this destination and 0.916 ± 0.009 with sonic-boom (minLength 4096), side by side on 2026-12-07
// (bench/RESULTS.md, "Telemetry cost"): sonic-boom re-measures the UTF-8 length of everything it holds on every
// line. What it costs: lines wait up to flushEveryMs (or until minBytes collect) before they are written. They are
// written synchronously on process exit (process.exit, a signal handled by serve, an uncaught exception), but
// a native abort loses what is held; a write error is said on stderr, once per kind, and never dropped silently.
import { write as fsWrite, writeSync } from 'node:fs';

export interface LogDestinationOptions {
  /** Default 1 (stdout). */
  fd?: number;
  /** Bytes per chunk (default 256 KiB): lines collect in one chunk while another is being written. */
  chunkBytes?: number;
  /** Bytes collected before a write starts when none is running (default 192 KiB). Each write hands the chunk to a
   * sleeping thread-pool thread, and waking it cost the event loop 110-145 µs on a 2-core VM: with 16 KiB, about
   * 2 µs per access-log line under load; with 48 KiB, a third of that, and still 1.4-2 µs per line in later
   * profiles; 192 KiB wakes it a quarter as often. A quiet server's lines wait for flushEveryMs instead. A full
   * chunk is written at once. */
  minBytes?: number;
  /** Bytes waiting to be written beyond which new lines are dropped and counted (default 16 MiB): a stalled log
   * reader must not grow the server's memory without bound. */
  maxPendingBytes?: number;
  /** A quiet server's lines still appear within this many milliseconds (default 250). */
  flushEveryMs?: number;
}

/** UTF-8 needs at most 3 bytes per UTF-16 code unit: room checked this way never overflows a chunk. */
const MAX_BYTES_PER_UNIT = 3;
/** How long to wait before writing again to a full non-blocking pipe. */
const RETRY_MS = 10;

/** To stderr, which is not this destination: said once when dropping starts and once when it ends. */
function warn(message: string): void {
  try {
    writeSync(2, `tiffin: ${message}\n`);
  } catch {
    // stderr is gone too: nothing left to tell.
  }
}

export class LogDestination {
  /** Lines dropped because too much was waiting to be written. */
  dropped = 0;
  private readonly fd: number;
  private readonly chunkBytes: number;
  private readonly minBytes: number;
  private readonly maxPendingBytes: number;
  private current: Buffer;
  private used = 0;
  /** Filled chunks waiting for their turn, oldest first; `head` is being written from offset `written`. */
  private readonly queue: { buf: Buffer; len: number }[] = [];
  private written = 0;
  /** A write is running or waiting to be retried; `inFlight`: the thread pool is writing the head right now. */
  private writing = false;
  private inFlight = false;
  private queuedBytes = 0;
  private spare: Buffer | undefined;
  private drained: (() => void)[] = [];
  /** Lines dropped since output last kept up (reported on stderr when it does again). */
  private droppedInSpell = 0;
  /** Kinds of write failure already reported on stderr. */
  private readonly failures = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private readonly afterWrite = this.onWritten.bind(this);
  private readonly onExit = () => this.flushSync();

  constructor(options: LogDestinationOptions = {}) {
    this.fd = options.fd ?? 1;
    this.chunkBytes = options.chunkBytes ?? 256 * 1024;
    this.minBytes = Math.min(options.minBytes ?? 192 * 1024, this.chunkBytes);
    this.maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
    this.current = Buffer.allocUnsafeSlow(this.chunkBytes);
    this.timer = setInterval(() => this.flush(), options.flushEveryMs ?? 250);
    this.timer.unref();
    process.on('exit', this.onExit);
  }

  /** Appends one or more whole lines (what pino and the access log hand over). */
  write(text: string): boolean {
    if (this.queuedBytes + this.used > this.maxPendingBytes) {
      if (this.droppedInSpell++ === 0) warn(`log output is not keeping up (${this.maxPendingBytes} bytes waiting): dropping log lines`);
      this.dropped++;
      return false;
    }
    const worst = text.length * MAX_BYTES_PER_UNIT;
    if (this.used + worst > this.chunkBytes) {
      this.seal();
      this.kick();
      if (worst > this.chunkBytes) {
        // Larger than a chunk (a huge error line): queued as a chunk of its own.
        const buf = Buffer.from(text);
        this.enqueue(buf, buf.length);
        this.kick();
        return true;
      }
    }
    this.used += this.current.write(text, this.used);
    if (!this.writing && this.used >= this.minBytes) {
      this.seal();
      this.kick();
    }
    return true;
  }

  /** Starts writing what is held; `done` is called once everything written before this call is out. */
  flush(done?: (err?: Error) => void): void {
    this.seal();
    if (done) {
      if (!this.writing && this.queue.length === 0) done();
      else this.drained.push(done);
    }
    this.kick();
  }

  /** Writes everything held synchronously (process exit). A chunk already being written by the thread pool
   * finishes on its own; what is written here may land before it. */
  flushSync(): void {
    this.seal();
    const start = this.inFlight ? 1 : 0;
    for (let i = start; i < this.queue.length; i++) {
      const { buf, len } = this.queue[i]!;
      let off = i === 0 ? this.written : 0;
      let attempts = 0;
      while (off < len && attempts < 100) {
        try {
          off += writeSync(this.fd, buf, off, len - off);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') break;
          attempts++;
        }
      }
    }
    this.queue.length = start;
    this.queuedBytes = start ? this.queue[0]!.len : 0;
    if (!start) this.written = 0;
  }

  /** Stops the flush timer and the exit hook, after writing what is held. */
  close(): void {
    clearInterval(this.timer);
    process.off('exit', this.onExit);
    this.flushSync();
  }

  /** Moves the lines collected so far into the queue. */
  private seal(): void {
    if (this.used === 0) return;
    this.enqueue(this.current, this.used);
    this.current = this.spare ?? Buffer.allocUnsafeSlow(this.chunkBytes);
    this.spare = undefined;
    this.used = 0;
  }

  private enqueue(buf: Buffer, len: number): void {
    this.queue.push({ buf, len });
    this.queuedBytes += len;
  }

  private kick(): void {
    if (this.writing || this.queue.length === 0) return;
    this.writing = true;
    this.inFlight = true;
    const head = this.queue[0]!;
    fsWrite(this.fd, head.buf, this.written, head.len - this.written, null, this.afterWrite);
  }

  private onWritten(err: NodeJS.ErrnoException | null, n: number): void {
    this.writing = false;
    this.inFlight = false;
    const head = this.queue[0];
    if (!head) return; // flushSync took it
    if (err) {
      if (err.code === 'EAGAIN') {
        // A full non-blocking pipe: try again shortly, keeping the order of lines.
        this.writing = true;
        setTimeout(() => {
          this.writing = false;
          this.kick();
        }, RETRY_MS).unref();
        return;
      }
      // The descriptor is gone (closed pipe, full disk): this chunk is lost, and said so; later ones still try.
      if (!this.failures.has(err.code ?? err.message)) {
        this.failures.add(err.code ?? err.message);
        warn(`writing log lines failed (${err.message}); ${head.len} bytes of log lines were lost`);
      }
      this.written = head.len;
    } else {
      this.written += n;
    }
    if (this.written >= head.len) {
      this.queue.shift();
      this.queuedBytes -= head.len;
      this.written = 0;
      if (head.buf.length === this.chunkBytes && !this.spare) this.spare = head.buf;
    }
    if (this.droppedInSpell > 0 && this.queuedBytes < this.maxPendingBytes / 2) {
      warn(`log output is keeping up again; ${this.droppedInSpell} log lines were dropped`);
      this.droppedInSpell = 0;
    }
    if (this.queue.length === 0 && this.used >= this.minBytes) this.seal();
    if (this.queue.length > 0) this.kick();
    else if (this.drained.length > 0) for (const done of this.drained.splice(0)) done();
  }
}
