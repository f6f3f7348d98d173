// The export worker: receives finished spans as plain objects and sends them with the official OTLP/HTTP
// exporter (which reads its headers, timeout and compression from OTEL_* as usual, and retries).
import { parentPort, workerData } from 'node:worker_threads';
import type { Attributes } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { fromWire } from './span-wire.ts';
import type { ExportWorkerData, FromExportWorker, ToExportWorker } from './worker-span-processor.ts';

const data = workerData as ExportWorkerData;
const exporter = new OTLPTraceExporter(data.url ? { url: data.url } : {});
const resource = resourceFromAttributes(data.resource as Attributes);
const scopes = new Map<string, InstrumentationScope>();
const port = parentPort!;
const reply = (msg: FromExportWorker) => port.postMessage(msg);
/** Exports under way; flush and shutdown wait for them. */
const pending = new Set<Promise<void>>();

function exportSpans(msg: Extract<ToExportWorker, { type: 'spans' }>): void {
  const done = new Promise<void>((resolve) => {
    exporter.export(msg.spans.map((w) => fromWire(w, resource, scopes)), (result) => {
      reply({ type: 'exported', spans: msg.spans.length, ok: result.code === 0, error: result.error?.message });
      resolve();
    });
  });
  pending.add(done);
  void done.then(() => pending.delete(done));
}

port.on('message', (msg: ToExportWorker) => {
  if (msg.type === 'spans') return exportSpans(msg);
  void Promise.all(pending).then(async () => {
    if (msg.type === 'shutdown') await exporter.shutdown();
    else await exporter.forceFlush();
    reply({ type: 'done', id: msg.id });
  });
});
