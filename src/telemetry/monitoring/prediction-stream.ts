// One named stream of a prediction log: its columns (written to schema.json), its sampling, and two rotating
// JSONL files (data, targets) fed from in-memory buffers that a background flush writes out.
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TiffinError } from '../../errors/index.ts';
import type { PredictionLog } from './prediction-log.ts';
import { inferType, PredictionRecord, toPlain } from './prediction-record.ts';
import type { ColumnRole, ColumnSpec, ColumnType, RecordOutcome, StreamOptions } from './prediction-types.ts';
import { RotatingFile } from '../logs/rotating-file.ts';
import { requestSampler } from '../tracing/sampling.ts';

const RESERVED = new Set(['request_id', 'timestamp']);
const ROLES: ReadonlySet<string> = new Set(['feature', 'prediction', 'target']);
/** Buffered bytes that trigger a flush before the timer does. */
const FLUSH_AT_BYTES = 1 << 20;

export class PredictionStream {
  readonly dir: string;
  readonly sampleRate: number;
  private readonly sample: (requestId: string) => boolean;
  private readonly columns = new Map<string, ColumnSpec>();
  private readonly data: LineBuffer;
  private readonly targets: LineBuffer;
  private schemaVersion = 0;
  private schemaWritten = -1;
  private writing: Promise<void> = Promise.resolve();
  private flushScheduled = false;

  constructor(
    readonly name: string,
    private readonly log: PredictionLog,
    options: StreamOptions,
  ) {
    this.dir = join(log.dir, name);
    const o = log.options;
    this.sampleRate = options.sampleRate ?? log.sampleRate;
    if (!(this.sampleRate >= 0 && this.sampleRate <= 1)) {
      throw new TiffinError('CONFIG_INVALID', `monitor "${name}": sample rate must be within 0..1; got ${this.sampleRate}`);
    }
    this.sample = o.sample ?? requestSampler(this.sampleRate);
    const file = (base: string) =>
      new RotatingFile({ dir: this.dir, base, maxFileBytes: o.maxFileBytes ?? 64 * 2 ** 20, maxFiles: o.maxFiles ?? 10 });
    this.data = { file: file('data'), lines: [], bytes: 0 };
    this.targets = { file: file('targets'), lines: [], bytes: 0 };
    for (const [col, spec] of Object.entries(options.columns ?? {})) this.column(col, spec.role, spec.type);
  }

  /** Whether this stream keeps records of `requestId`. */
  sampled(requestId: string): boolean {
    return this.sample(requestId);
  }

  /** A record for one request; log into it, then commit() (the server commits at the end of the request). */
  record(requestId: string = randomUUID()): PredictionRecord {
    return new PredictionRecord(this, requestId, this.sample(requestId));
  }

  /** Logs the true values for an earlier request, kept if and only if that request's record was. */
  logTarget(requestId: string, values: Readonly<Record<string, unknown>>): void {
    if (!this.sample(requestId)) return this.count('sampled_out');
    let line = this.head(requestId);
    for (const [name, value] of Object.entries(values)) line += `,${JSON.stringify(name)}:${this.encode(name, value, 'target', undefined)}`;
    this.push(this.targets, `${line}}\n`);
  }

  /** Columns known so far, in first-seen order. */
  schema(): ColumnSpec[] {
    return [...this.columns.values()].map((c) => ({ ...c }));
  }

  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeOut());
    return this.writing;
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all([this.data.file.close(), this.targets.file.close()]);
  }

  /** @internal Serialises one value now (so later mutation by the caller cannot change what is logged), checking its column. */
  encode(name: string, value: unknown, role: ColumnRole, type: ColumnType | undefined): string {
    const plain = toPlain(value);
    this.column(name, role, type ?? inferType(plain));
    return JSON.stringify(plain) ?? 'null';
  }

  /** @internal */
  head(requestId: string): string {
    const now = this.log.options.now?.() ?? new Date();
    return `{"request_id":${JSON.stringify(requestId)},"timestamp":${JSON.stringify(now.toISOString())}`;
  }

  /** @internal */
  commitRow(requestId: string, fields: string): void {
    this.push(this.data, `${this.head(requestId)}${fields}}\n`);
  }

  /** @internal */
  count(outcome: RecordOutcome): void {
    this.log.options.onRecord?.(this.name, outcome);
  }

  private column(name: string, role: ColumnRole, type: ColumnType | undefined): void {
    const known = this.columns.get(name);
    if (known) {
      if (known.role !== role) {
        throw new TiffinError('SERVICE_INVALID', `monitor "${this.name}": column "${name}" is a ${known.role}, not a ${role}`);
      }
      if (known.type === undefined && type !== undefined) {
        known.type = type;
        this.schemaVersion++;
      }
      return;
    }
    if (RESERVED.has(name)) throw new TiffinError('SERVICE_INVALID', `monitor "${this.name}": column name "${name}" is reserved`);
    if (!ROLES.has(role)) throw new TiffinError('SERVICE_INVALID', `monitor "${this.name}": role must be feature, prediction or target`);
    this.columns.set(name, { name, role, type });
    this.schemaVersion++;
  }

  private push(buffer: LineBuffer, line: string): void {
    // A string's length is a cheap stand-in for its byte size here; exact sizes are counted when written.
    if (this.log.isClosed || buffer.bytes + line.length > (this.log.options.maxBufferBytes ?? 16 * 2 ** 20)) {
      return this.count('dropped');
    }
    buffer.lines.push(line);
    buffer.bytes += line.length;
    this.count('kept');
    if (buffer.bytes >= FLUSH_AT_BYTES && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        void this.flush();
      });
    }
  }

  private async writeOut(): Promise<void> {
    if (this.log.dir === '') return; // the disabled log
    try {
      if (this.schemaWritten !== this.schemaVersion) {
        const version = this.schemaVersion;
        await this.writeSchema();
        this.schemaWritten = version;
      }
      for (const buffer of [this.data, this.targets]) {
        const lines = buffer.lines;
        if (lines.length === 0) continue;
        buffer.lines = [];
        buffer.bytes = 0;
        await buffer.file.append(lines);
      }
    } catch (err) {
      this.log.options.onError?.(err, this.name);
    }
  }

  private async writeSchema(): Promise<void> {
    const schema = {
      stream: this.name,
      format: 'jsonl',
      key: 'request_id',
      files: { data: 'data.<n>.jsonl', targets: 'targets.<n>.jsonl' },
      sampleRate: this.log.options.sample ? null : this.sampleRate,
      columns: [
        { name: 'request_id', role: 'id', type: 'categorical' },
        { name: 'timestamp', role: 'time', type: 'datetime' },
        ...this.schema(),
      ],
    };
    const path = join(this.dir, 'schema.json');
    // Written aside and renamed, so a reader never sees half a schema.
    await mkdir(this.dir, { recursive: true });
    await writeFile(`${path}.tmp`, `${JSON.stringify(schema, null, 2)}\n`);
    await rename(`${path}.tmp`, path);
  }
}

interface LineBuffer {
  file: RotatingFile;
  lines: string[];
  bytes: number;
}

/** One request's row in a stream. Logging into a record that was sampled out costs nothing. */

interface LineBuffer {
  file: RotatingFile;
  lines: string[];
  bytes: number;
}

/** One request's row in a stream. Logging into a record that was sampled out costs nothing. */
