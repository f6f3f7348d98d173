// Owns: prediction logging (ctx.monitor): records of inputs and outputs written as rotated JSON-lines streams,
// and tensor summaries for model monitoring. Uses logs' rotating files and tracing's request sampler; knows nothing about metrics or HTTP.
export {
  PredictionLog,
  PredictionStream,
  PredictionRecord,
  type PredictionLogOptions,
  type StreamOptions,
  type ColumnRole,
  type ColumnType,
  type ColumnSpec,
  type RecordOutcome,
} from './prediction-log.ts';
export { logTensors, tensorValues, monitorLoads, type ModelMonitorConfig } from './tensor-monitor.ts';
