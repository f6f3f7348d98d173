// One request's row in a prediction stream: values are serialised as they are logged (so a caller that
// mutates or hands over its buffers afterwards cannot change what is logged), and the row is queued on commit.
import { TiffinError } from '../../errors/index.ts';
import type { PredictionStream } from './prediction-stream.ts';
import type { ColumnRole, ColumnType } from './prediction-types.ts';

export class PredictionRecord {
  private fields = '';
  private committed = false;

  constructor(
    readonly stream: PredictionStream,
    readonly requestId: string,
    readonly sampled: boolean,
  ) {}

  /** Logs one value (BentoML's `mon.log(value, name, role, data_type)`). */
  log(name: string, value: unknown, role: ColumnRole, type?: ColumnType): this {
    if (!this.sampled || this.committed) return this;
    if (role === 'target') {
      throw new TiffinError('SERVICE_INVALID', `monitor "${this.stream.name}": targets are logged later with logTarget(requestId, values)`);
    }
    this.fields += `,${JSON.stringify(name)}:${this.stream.encode(name, value, role, type)}`;
    return this;
  }

  /** Logs several features at once. */
  features(values: Readonly<Record<string, unknown>>): this {
    for (const [k, v] of Object.entries(values)) this.log(k, v, 'feature');
    return this;
  }

  /** Logs several predictions at once. */
  predictions(values: Readonly<Record<string, unknown>>): this {
    for (const [k, v] of Object.entries(values)) this.log(k, v, 'prediction');
    return this;
  }

  /** Logs the truth for an earlier request (of this stream), joined offline on request_id. */
  logTarget(requestId: string, values: Readonly<Record<string, unknown>>): void {
    this.stream.logTarget(requestId, values);
  }

  /** Queues the row for writing. Idempotent; a record with nothing logged writes nothing. */
  commit(): void {
    if (this.committed) return;
    this.committed = true;
    if (!this.sampled) return this.stream.count('sampled_out');
    if (this.fields) this.stream.commitRow(this.requestId, this.fields);
  }
}

export function toPlain(value: unknown): unknown {
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    // Typed arrays would serialise as {"0":..}; bigint arrays become numbers (precision beyond 2^53 is not needed here).
    return Array.from(value as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
  }
  if (typeof value === 'bigint') return Number(value);
  if (value === undefined) return null;
  return value;
}

export function inferType(value: unknown): ColumnType | undefined {
  switch (typeof value) {
    case 'number':
      return 'numerical';
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'categorical';
    case 'object':
      if (value === null) return undefined;
      if (Array.isArray(value) && value.length > 0 && value.every((x) => typeof x === 'number')) return 'numerical_sequence';
      return 'json';
    default:
      return 'json';
  }
}
