// A SpanProcessor that exports from a worker thread. Turning spans into OTLP and sending them costs more than
// recording them; here the event loop only copies finished spans out as JSON text (toWireJson) and posts them
// in batches, and the worker runs the official OTLP/HTTP exporter (headers, timeout, compression, retries from
// OTEL_*). Spans are copied when their batch is posted, all together, not one by one as they end: at the default
// sampling a traced request is rare, and code that runs rarely runs cold, several times slower than in a loop.
// A span waits at most `delayMs`, or until `maxBatch` have ended (a few ms when every request is traced), so it
// still dies young. A backlog beyond `maxQueued` spans is dropped rather than buffered without bound, and the
// worker never keeps the process alive.
import { Worker } from 'node:worker_threads';
import { TraceFlags } from '@opentelemetry/api';
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { toWireJson } from './span-wire.ts';
import type { OtlpProtocol } from './tracing.ts';

export interface ExportWorkerData {
  /** Traces endpoint; undefined lets the exporter read OTEL_EXPORTER_OTLP_* itself. */
  url: string | undefined;
  /** Which official exporter the worker runs. */
  protocol: OtlpProtocol;
  /** The resource's attributes (the worker rebuilds the resource from them). */
  resource: Record<string, unknown>;
}

export type ToExportWorker =
  /** Each span one JSON-encoded WireSpan. */
  | { type: 'spans'; spans: string[] }
  | { type: 'flush'; id: number }
  | { type: 'shutdown'; id: number };

export type FromExportWorker =
  /** A batch was sent (or failed): its spans no longer count against maxQueued. */
  | { type: 'exported'; spans: number; ok: boolean; error?: string | undefined }
  | { type: 'done'; id: number };

/** Read from OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY and OTEL_BSP_MAX_QUEUE_SIZE when set. */
export interface WorkerSpanProcessorOptions {
  /** Spans per message to the worker, and per export (default 512, at most maxQueued). */
  maxBatch?: number;
  /** Longest a finished span waits before it is posted (default 200 ms; the SDK's is 5 s, but a span waiting
   * here is on the event loop's heap, and a short wait lets it die young). */
  delayMs?: number;
  /** Spans buffered or posted and not yet exported, beyond which new ones are dropped (default 8192). */
  maxQueued?: number;
}

const ENTRY = new URL('./otlp-worker.js', import.meta.url);

export class WorkerSpanProcessor implements SpanProcessor {
  /** Spans dropped because the worker fell behind. */
  dropped = 0;
  private buffer: ReadableSpan[] = [];
  private timer: NodeJS.Timeout | undefined;
  private queued = 0;
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, () => void>();
  private stopped = false;
  private readonly maxBatch: number;
  private readonly delayMs: number;
  private readonly maxQueued: number;

  constructor(
    private readonly data: ExportWorkerData,
    options: WorkerSpanProcessorOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 8192;
    // As the SDK's BatchSpanProcessor does: a batch never holds more than the queue may.
    this.maxBatch = Math.min(options.maxBatch ?? 512, this.maxQueued);
    this.delayMs = options.delayMs ?? 200;
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.stopped || (span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return;
    if (this.queued + this.buffer.length >= this.maxQueued) {
      this.dropped++;
      return;
    }
    this.buffer.push(span);
    if (this.buffer.length >= this.maxBatch) this.post();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.post(), this.delayMs);
      this.timer.unref();
    }
  }

  /** Posts what is buffered and resolves once the worker has exported everything posted so far. */
  forceFlush(): Promise<void> {
    this.post();
    if (!this.worker) return Promise.resolve();
    return this.request('flush');
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.post();
    this.stopped = true;
    const worker = this.worker;
    if (!worker) return;
    await this.request('shutdown');
    await worker.terminate();
  }

  private post(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const spans = this.buffer.map(toWireJson);
    this.buffer = [];
    this.queued += spans.length;
    this.send({ type: 'spans', spans });
  }

  private request(type: 'flush' | 'shutdown'): Promise<void> {
    const id = ++this.nextId;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.send({ type, id });
    });
  }

  private send(msg: ToExportWorker): void {
    const worker = this.ensureWorker();
    // Referenced only while something is owed, so exit waits for a flush but never for an idle worker.
    worker.ref();
    worker.postMessage(msg);
  }

  private settle(): void {
    if (this.queued === 0 && this.waiting.size === 0) this.worker?.unref();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY, { workerData: this.data });
    worker.on('message', (msg: FromExportWorker) => {
      if (msg.type === 'exported') this.queued = Math.max(0, this.queued - msg.spans);
      else {
        this.waiting.get(msg.id)?.();
        this.waiting.delete(msg.id);
      }
      this.settle();
    });
    const lost = () => {
      this.queued = 0;
      for (const resolve of this.waiting.values()) resolve();
      this.waiting.clear();
      this.worker = undefined; // a later batch starts a fresh worker
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    this.worker = worker;
    return worker;
  }
}
