// Prediction logging (BentoML's `bentoml.monitor`): what a model saw and said, per request, and the truth
// when it is learnt later, as JSONL for offline analysis of model quality.
//
//   <dir>/<stream>/schema.json          columns with role (feature | prediction | target) and type
//   <dir>/<stream>/data.<n>.jsonl       one line per sampled request: request_id, timestamp, features, predictions
//   <dir>/<stream>/targets.<n>.jsonl    one line per target: request_id, timestamp, target columns (join on request_id)
//
// The request path only serialises values and pushes a line into memory; files are written in the background.
// When the disk cannot keep up, lines are dropped and counted rather than making requests wait.
import { TiffinError } from '../../errors/index.ts';
import { PredictionStream } from './prediction-stream.ts';
import type { PredictionLogOptions, StreamOptions } from './prediction-types.ts';

export type { ColumnRole, ColumnSpec, ColumnType, PredictionLogOptions, RecordOutcome, StreamOptions } from './prediction-types.ts';
export { PredictionStream } from './prediction-stream.ts';
export { PredictionRecord } from './prediction-record.ts';

let disabledLog: PredictionLog | undefined;

export class PredictionLog {
  /** A log that keeps nothing and never touches the disk, for servers without a monitoring folder. */
  static disabled(): PredictionLog {
    disabledLog ??= new PredictionLog({ dir: '', sampleRate: 0 });
    return disabledLog;
  }

  readonly dir: string;
  readonly sampleRate: number;
  private readonly streams = new Map<string, PredictionStream>();
  private readonly timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(readonly options: PredictionLogOptions) {
    const rate = options.sampleRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new TiffinError('CONFIG_INVALID', `monitoring sample rate must be within 0..1; got ${rate}`);
    this.dir = options.dir;
    this.sampleRate = rate;
    if (options.dir !== '') {
      this.timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 1000);
      this.timer.unref();
    }
  }

  /** The stream called `name`, created on first use (declared columns are taken the first time only). */
  stream(name: string, options: StreamOptions = {}): PredictionStream {
    let s = this.streams.get(name);
    if (!s) {
      if (this.closed) throw new TiffinError('SHUTTING_DOWN', 'prediction log is closed');
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(name) || name.includes('..')) {
        throw new TiffinError('INVALID_NAME', `monitor stream name "${name}" must be letters, digits, '_', '.', '-' (a folder name)`);
      }
      s = new PredictionStream(name, this, options);
      this.streams.set(name, s);
    }
    return s;
  }

  /** Writes everything buffered now. */
  async flush(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => s.flush()));
  }

  /** Flushes and closes every file; later records are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.streams.values()].map((s) => s.close()));
  }

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }
}
