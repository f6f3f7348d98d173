// One offline job: every row through the API's own invoke path (input io parse and validation, handler, output
// serialize) with the service's models in runners, so batching is the online server's. At most `concurrency` rows
// are in flight; outputs are written in input order, bad rows to the errors file, and a checkpoint follows each
// fsync of both files, so a killed job resumes with no row missing or written twice.
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { TiffinError, messageOf } from '../errors/index.ts';
import { resolveLimits, type RequestLimits } from '../limits/index.ts';
import type { ModelHandles, ModelTags, RequestContext } from '../service/context.ts';
import { invokeApi } from '../service/invoke.ts';
import type { ApiDefinition, ApiMap, Service } from '../service/service.ts';
import type { OpenedModels } from '../service/model-provider.ts';
import { csvCell } from './csv.ts';
import { checkResumable, inputFingerprint, readCheckpoint, writeCheckpoint, type Checkpoint } from './checkpoint.ts';
import { readRows, type InputFormat } from './input-rows.ts';
import { OrderedResults, type RowResult } from './ordered-results.ts';

export interface JobOptions {
  svc: Service<ModelTags, ApiMap>;
  /** What names the service for the checkpoint (module path or bundle tag). */
  serviceId: string;
  api: string;
  input: string;
  inputFormat: InputFormat;
  output: string;
  outputFormat: 'jsonl' | 'csv';
  errors: string;
  concurrency: number;
  restart: boolean;
  models: OpenedModels;
  log: Logger;
  limits?: RequestLimits;
  onProgress?: (p: JobProgress) => void;
  /** `ctx.services` for a row (its request id is `row-<n>`): the service's dependencies (open-service.ts). */
  services?: Services;
  /** Resolves to stop taking rows (SIGINT). */
  stop?: Promise<void>;
  /** Only rows whose number - 1 is `index` modulo `count` (`--shard index/count`, one pod of an Indexed Job each):
   * shards together cover every row once. Each shard has its own output and checkpoint. */
  shard?: { index: number; count: number };
}

export interface JobProgress { rows: number; ok: number; failed: number; inputOffset: number; inputSize: number; resumedAt: number }
export interface JobSummary extends JobProgress { interrupted: boolean; seconds: number; rowsPerSecond: number }

const FLUSH_MS = 1000;

type Services = (requestId: string) => RequestContext<ModelTags>['services'];

/** The handler's context offline: the same shape as the server's, with no HTTP request behind it. */
class OfflineContext implements RequestContext<ModelTags> {
  readonly headers = {};
  readonly traceId = undefined;
  readonly fetch = globalThis.fetch;
  private logger: Logger | undefined;
  private clients: RequestContext<ModelTags>['services'] | undefined;
  constructor(readonly requestId: string, readonly api: string, readonly models: ModelHandles<ModelTags>, private readonly base: Logger, private readonly servicesFor: Services | undefined) {}
  get services(): RequestContext<ModelTags>['services'] { return (this.clients ??= this.servicesFor?.(this.requestId) ?? ({} as RequestContext<ModelTags>['services'])); }
  get signal(): AbortSignal { return new AbortController().signal; }
  get log(): Logger { return (this.logger ??= this.base.child({ reqId: this.requestId, api: this.api })); }
  get metrics(): never { throw new TiffinError('BAD_REQUEST', 'ctx.metrics is not available under tiffin run'); }
  monitor(): never { throw new TiffinError('BAD_REQUEST', 'ctx.monitor is not available under tiffin run'); }
  setStatus(): void {}
  setHeader(): void {}
}

/** The JSON a row's response body stands for. */
function decodeBody(body: { contentType: string; body: Buffer | string }): unknown {
  const text = typeof body.body === 'string' ? body.body : body.body.toString('utf8');
  if (body.contentType.startsWith('application/json')) return JSON.parse(text);
  if (body.contentType.startsWith('text/')) return text;
  return { contentType: body.contentType, base64: Buffer.from(body.body).toString('base64') };
}

export function checkApiRunsOffline(api: ApiDefinition): void {
  if (api.output.kind === 'stream') throw new TiffinError('BAD_REQUEST', `API "${api.name}" streams its output; tiffin run takes APIs that answer one value per row`);
  if (!api.input.accepts.some((t) => t === 'application/json' || t === '*/*')) throw new TiffinError('BAD_REQUEST', `API "${api.name}" takes ${api.input.accepts.join(', ')}; tiffin run feeds each row as JSON`);
}

async function runRow(api: ApiDefinition, row: number, value: unknown, models: ModelHandles<ModelTags>, log: Logger, limits: RequestLimits, services: Services | undefined): Promise<unknown> {
  const payload = { mediaType: 'application/json', mediaParams: {}, headers: {}, body: Buffer.from(JSON.stringify(value)), parts: undefined, limits };
  const body = await invokeApi(api, payload, new OfflineContext(`row-${row}`, api.name, models, log, services), { accept: 'application/json' });
  if (body.type !== 'body') throw new TiffinError('HANDLER_FAILED', 'the API answered a stream');
  return decodeBody(body);
}

function rowError(err: unknown): { code: string; message: string; details?: unknown } {
  if (!(err instanceof TiffinError)) return { code: 'HANDLER_FAILED', message: messageOf(err) };
  const cause = err.code === 'HANDLER_FAILED' && err.cause !== undefined ? `handler failed: ${messageOf(err.cause)}` : err.message;
  return { code: err.code, message: cause, ...(err.details !== undefined ? { details: err.details } : {}) };
}

/** Nested objects flattened to `a.b` keys for CSV columns; arrays stay one JSON cell. */
function flatten(value: unknown, prefix = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) { out[prefix || 'output'] = value; return out; }
  for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

async function openAt(path: string, bytes: number | undefined): Promise<FileHandle> {
  if (bytes === undefined) return open(path, 'w');
  const size = (await stat(path).catch(() => undefined))?.size;
  if (size === undefined || size < bytes) throw new TiffinError('CHECKPOINT_MISMATCH', `${path} is shorter than its checkpoint says (${size ?? 'missing'} < ${bytes} bytes); pass --restart to start over`);
  const fh = await open(path, 'r+');
  await fh.truncate(bytes); // lines written after the last checkpoint are written again
  return fh;
}

export async function runJob(o: JobOptions): Promise<JobSummary> {
  const api = o.svc.findApi(o.api);
  if (!api) throw new TiffinError('BAD_REQUEST', `service "${o.svc.name}" has no API "${o.api}"; it has ${o.svc.apis.map((a) => a.name).join(', ')}`);
  checkApiRunsOffline(api);
  const limits = o.limits ?? resolveLimits(undefined);
  const fp = await inputFingerprint(o.input);
  const identity: Checkpoint['identity'] = {
    input: resolve(o.input), ...fp, service: o.serviceId, api: o.api, output: o.outputFormat,
    ...(o.shard ? { shard: `${o.shard.index}/${o.shard.count}` } : {}),
  };
  const cpPath = `${o.output}.checkpoint.json`;
  const saved = o.restart ? undefined : await readCheckpoint(cpPath);
  if (saved) checkResumable(saved, identity, cpPath);
  const out = await openAt(o.output, saved?.outputBytes);
  const errs = await openAt(o.errors, saved?.errorsBytes);
  const state: Checkpoint = saved ?? { identity, rowsDone: 0, inputOffset: 0, outputBytes: 0, errorsBytes: 0, ok: 0, failed: 0 };
  const resumedAt = state.rowsDone;
  let outBuf: string[] = [], errBuf: string[] = [];
  let pendingOut = 0, pendingErr = 0;

  const ordered = new OrderedResults(state.rowsDone + 1, (r: RowResult) => {
    let line: string;
    if (r.skipped) {
      state.rowsDone = r.row;
      state.inputOffset = r.end;
      return;
    }
    if (r.error) {
      line = `${JSON.stringify({ row: r.row, ...r.error })}\n`;
      errBuf.push(line); pendingErr += Buffer.byteLength(line); state.failed++;
    } else {
      if (o.outputFormat === 'csv') {
        const flat = flatten(r.output);
        if (!state.columns) { state.columns = Object.keys(flat); const h = `${['row', ...state.columns].map(csvCell).join(',')}\n`; outBuf.push(h); pendingOut += Buffer.byteLength(h); }
        line = `${[r.row, ...state.columns.map((c) => flat[c])].map(csvCell).join(',')}\n`;
      } else line = `${JSON.stringify({ row: r.row, output: r.output })}\n`;
      outBuf.push(line); pendingOut += Buffer.byteLength(line); state.ok++;
    }
    state.rowsDone = r.row;
    state.inputOffset = r.end;
  });

  let flushing = Promise.resolve();
  const flush = () => {
    // Explicit positions: a handle opened r+ (resuming) would otherwise write from byte 0.
    const outAt = state.outputBytes, errAt = state.errorsBytes;
    const o1 = outBuf, e1 = errBuf, snap: Checkpoint = { ...state, outputBytes: state.outputBytes + pendingOut, errorsBytes: state.errorsBytes + pendingErr };
    outBuf = []; errBuf = []; state.outputBytes = snap.outputBytes; state.errorsBytes = snap.errorsBytes; pendingOut = pendingErr = 0;
    flushing = flushing.then(async () => {
      if (o1.length) await out.write(o1.join(''), outAt);
      if (e1.length) await errs.write(e1.join(''), errAt);
      await Promise.all([out.sync(), errs.sync()]);
      await writeCheckpoint(cpPath, snap);
    });
    return flushing;
  };

  const t0 = performance.now();
  const progress = (): JobProgress => ({ rows: state.rowsDone, ok: state.ok, failed: state.failed, inputOffset: state.inputOffset, inputSize: fp.size, resumedAt });
  const timer = setInterval(() => { void flush(); o.onProgress?.(progress()); }, FLUSH_MS);
  const cap = Math.min(o.concurrency, api.maxConcurrency ?? Infinity);
  const window = Math.max(cap * 4, 1024);
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let stopped = false;
  void o.stop?.then(() => { stopped = true; wake?.(); });
  const started = new Set<Promise<void>>();
  try {
    for await (const item of readRows(o.input, o.inputFormat, state.inputOffset, state.rowsDone + 1)) {
      while (!stopped && (inFlight >= cap || item.row - ordered.nextRow >= window)) await new Promise<void>((r) => (wake = r));
      if (stopped) break;
      if (o.shard && (item.row - 1) % o.shard.count !== o.shard.index) { ordered.add({ row: item.row, end: item.end, skipped: true }); continue; }
      if (item.error !== undefined) { ordered.add({ row: item.row, end: item.end, error: { code: 'BAD_REQUEST', message: item.error } }); continue; }
      inFlight++;
      const p: Promise<void> = runRow(api, item.row, item.value, o.models.handles, o.log, limits, o.services).then(
        (output) => ordered.add({ row: item.row, end: item.end, output }),
        (err: unknown) => ordered.add({ row: item.row, end: item.end, error: rowError(err) }),
      ).finally(() => { inFlight--; started.delete(p); const w = wake; wake = undefined; w?.(); });
      started.add(p);
    }
    await Promise.all(started);
  } finally {
    clearInterval(timer);
    await flush();
    await out.close(); await errs.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  if (!stopped) {
    await rm(cpPath, { force: true });
    if (state.failed === 0) await rm(o.errors, { force: true });
  }
  return { ...progress(), interrupted: stopped, seconds, rowsPerSecond: (state.rowsDone - resumedAt) / Math.max(seconds, 1e-9) };
}
