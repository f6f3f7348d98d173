// The vocabulary of prediction logging: column roles and types, record outcomes, and the options of a log
// and of its streams.

export type ColumnRole = 'feature' | 'prediction' | 'target';
export type ColumnType = 'numerical' | 'categorical' | 'boolean' | 'numerical_sequence' | 'text' | 'json';

export interface ColumnSpec {
  name: string;
  role: ColumnRole;
  /** Inferred from the first non-null value when not declared. */
  type: ColumnType | undefined;
}

/** What happened to a record: kept (buffered for writing), sampled_out, or dropped (buffer full, write failed). */
export type RecordOutcome = 'kept' | 'sampled_out' | 'dropped';

export interface PredictionLogOptions {
  /** Root folder; each stream gets a subfolder. */
  dir: string;
  /** Share of requests logged, 0..1 (default 1). */
  sampleRate?: number;
  /** Default 64 MiB. */
  maxFileBytes?: number;
  /** Files kept per stream and kind (data, targets), the current one included (default 10). */
  maxFiles?: number;
  /** How often buffered lines are written (default 1000 ms). */
  flushIntervalMs?: number;
  /** Buffered bytes per stream beyond which new lines are dropped (default 16 MiB). */
  maxBufferBytes?: number;
  /** Replaces the request-id hash sampler (tests, or a custom policy). Must answer the same for the same id. */
  sample?: (requestId: string) => boolean;
  /** Clock for timestamps (tests). */
  now?: () => Date;
  /** Told about each record's fate (wire to a metric). */
  onRecord?: (stream: string, outcome: RecordOutcome) => void;
  /** Told about write failures (wire to the logger). Logging never throws into a request. */
  onError?: (err: unknown, stream: string) => void;
}

export interface StreamOptions {
  /** This stream's share of requests, instead of the log's sampleRate. */
  sampleRate?: number;
  /** Declared columns: name -> role and optional type. Undeclared columns are added as they are first logged. */
  columns?: Record<string, { role: ColumnRole; type?: ColumnType }>;
}
