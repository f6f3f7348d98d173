// Owns: adaptive micro-batching: the per-method dispatcher (queue, priorities, shedding, cost model) and stacking/splitting of batches.
// Knows nothing about: worker threads, HTTP, services or protocols; it dispatches to any BatchTarget.
export { BatchDispatcher, DEFAULT_MAX_BATCH_SIZE, DEFAULT_MAX_LATENCY_MS, DEFAULT_MAX_QUEUE_SIZE } from './dispatcher.ts';
export { rowCodec, singleCodec, type BatchCodec } from './codec.ts';
export { BatchCostModel, type CostFit } from './cost-model.ts';
export { systemClock, type Clock } from './clock.ts';
export { FakeClock, settle } from './fake-clock.ts';
export { Histogram, MS_BUCKETS, sizeBuckets, type HistogramSnapshot } from './stats.ts';
export {
  concatBatch, concatTensors, isTensor, isTensors, rowsOfTensors, sliceBatch, sliceTensor, splitBatch,
} from './tensor-batch.ts';
export type * from './types.ts';
