// Prediction logging for models served without code (`tiffin serve --models` with `monitor:` set): a call's
// input tensors are logged as features and its outputs as predictions, one column per tensor.
import { fromBFloat16Bits, fromFloat16Bits } from '../../runtime/half.ts';
import type { Tensor, Tensors } from '../../runtime/tensor.ts';
import type { CallOptions } from '../../runtime/types.ts';
import type { PredictionLog, PredictionRecord } from './prediction-log.ts';

/** The tensor's values as JSON-friendly numbers (half floats decoded, 64-bit integers as numbers, bools as 0/1). */
export function tensorValues(t: Tensor): number[] | string[] {
  const data = t.data;
  if (Array.isArray(data)) return data;
  if (t.dtype === 'float16') return Array.from(data as Uint16Array, fromFloat16Bits);
  if (t.dtype === 'bfloat16') return Array.from(data as Uint16Array, fromBFloat16Bits);
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) return Array.from(data, Number);
  return Array.from(data as ArrayLike<number>);
}

/** Logs `inputs` as features and `outputs` as predictions on `record` (a no-op for a sampled-out record). */
export function logTensors(record: PredictionRecord, inputs: Tensors, outputs: Tensors): void {
  logTensorMap(record, inputs, 'feature');
  logTensorMap(record, outputs, 'prediction');
}

function logTensorMap(record: PredictionRecord, tensors: Tensors, role: 'feature' | 'prediction'): void {
  if (!record.sampled) return;
  for (const [name, t] of Object.entries(tensors)) record.log(name, tensorValues(t), role, t.dtype === 'string' ? 'json' : 'numerical_sequence');
}

/** A served model's `monitor:` setting: true logs to a stream named after the model; an object picks the stream
 * and a sample rate of its own (instead of monitoring.sampleRate). */
export type ModelMonitorConfig = boolean | { stream?: string; sampleRate?: number };

export interface MonitoredConfig {
  name: string;
  monitor?: ModelMonitorConfig;
}

export interface RunnableModel {
  /** `options.requestId`: the calling request's id, which the protocol routes pass. */
  run(feeds: Tensors, options?: CallOptions): Promise<Tensors>;
}

/**
 * Wraps the repository's model loader so that every version of a model configured with `monitor:` logs each
 * call's inputs (as features) and outputs (as predictions) to its prediction stream. Inputs are logged before
 * the call, since a runner may take over their buffers. Records are keyed by CallOptions.requestId, which the
 * protocol routes set to the id the client sees (HTTP: `x-request-id`; gRPC: the request's `id`), so targets can
 * be joined later; a call without one (from code) gets a fresh id.
 */
export function monitorLoads<C extends { config: MonitoredConfig }, T extends RunnableModel>(
  log: PredictionLog,
  load: (tag: string, context: C) => Promise<T>,
): (tag: string, context: C) => Promise<T> {
  return async (tag, context) => {
    const loaded = await load(tag, context);
    const setting = context.config.monitor;
    if (!setting) return loaded;
    const name = typeof setting === 'object' && setting.stream ? setting.stream : context.config.name;
    const rate = typeof setting === 'object' ? setting.sampleRate : undefined;
    const stream = log.stream(name, rate === undefined ? {} : { sampleRate: rate });
    const run = loaded.run.bind(loaded);
    loaded.run = async (feeds, options) => {
      const record = stream.record(options?.requestId);
      if (!record.sampled) {
        record.commit(); // counted as sampled out
        return run(feeds, options);
      }
      logTensorMap(record, feeds, 'feature');
      const outputs = await run(feeds, options);
      logTensorMap(record, outputs, 'prediction');
      record.commit();
      return outputs;
    };
    return loaded;
  };
}
