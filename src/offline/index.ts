// Owns: offline batch inference (`tiffin run`): reading rows (CSV, JSONL), running each through a service's own
// invoke path with its runners and batching, writing outputs in input order, the errors file and resumable checkpoints.
// Knows nothing about: HTTP, or the command line (src/cli parses flags and draws progress).
export { readRows, type InputFormat, type InputRow } from './input-rows.ts';
export { parseCsvRecords, csvCell, csvValue } from './csv.ts';
export { OrderedResults, type RowResult } from './ordered-results.ts';
export { runJob, type JobOptions, type JobProgress, type JobSummary } from './run-job.ts';
export { openService, type OpenedService } from './open-service.ts';
