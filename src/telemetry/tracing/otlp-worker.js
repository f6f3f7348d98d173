// The OTLP export worker (see worker-span-processor.ts): receives finished spans as JSON text (span-wire.ts),
// rebuilds the ReadableSpan shape the official OTLP/HTTP exporter (protobuf or JSON) serialises, and sends them; it reads
// its headers, timeout and compression from OTEL_* as usual, and retries. Plain JavaScript on purpose: a worker
// does not inherit the parent's TypeScript loader, and registering one would make every module this worker
// imports go through loader hooks at start-up, costing the serving thread time.
import { parentPort, workerData } from 'node:worker_threads';
import { resourceFromAttributes } from '@opentelemetry/resources';

const { OTLPTraceExporter } =
  workerData.protocol === 'http/json' ? await import('@opentelemetry/exporter-trace-otlp-http') : await import('@opentelemetry/exporter-trace-otlp-proto');

const exporter = new OTLPTraceExporter(workerData.url ? { url: workerData.url } : {});
const resource = resourceFromAttributes(workerData.resource);
/** Instrumentation scopes by key, shared so the serialiser groups spans of one scope together. */
const scopes = new Map();
/** Exports under way; flush and shutdown wait for them. */
const pending = new Set();

function traceState(serialized) {
  if (serialized === undefined) return undefined;
  return { serialize: () => serialized, get: () => undefined, set() { return this; }, unset() { return this; } };
}

function spanContext(c) {
  const out = { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags };
  const ts = traceState(c.traceState);
  if (ts) out.traceState = ts;
  if (c.isRemote !== undefined) out.isRemote = c.isRemote;
  return out;
}

function fromWire(json) {
  const w = JSON.parse(json);
  const ctx = spanContext(w.context);
  const key = `${w.scope.name}@${w.scope.version ?? ''}:${w.scope.schemaUrl ?? ''}`;
  let scope = scopes.get(key);
  if (!scope) {
    scope = { name: w.scope.name };
    if (w.scope.version) scope.version = w.scope.version;
    if (w.scope.schemaUrl) scope.schemaUrl = w.scope.schemaUrl;
    scopes.set(key, scope);
  }
  const span = {
    name: w.name,
    kind: w.kind,
    spanContext: () => ctx,
    startTime: w.startTime,
    endTime: w.endTime,
    status: w.status,
    attributes: w.attributes,
    links: w.links.map((l) => {
      const link = { context: spanContext(l.context) };
      if (l.attributes) link.attributes = l.attributes;
      if (l.droppedAttributesCount !== undefined) link.droppedAttributesCount = l.droppedAttributesCount;
      return link;
    }),
    events: w.events,
    duration: [w.endTime[0] - w.startTime[0], w.endTime[1] - w.startTime[1]],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: w.droppedAttributesCount,
    droppedEventsCount: w.droppedEventsCount,
    droppedLinksCount: w.droppedLinksCount,
  };
  if (w.parent) span.parentSpanContext = spanContext(w.parent);
  return span;
}

parentPort.on('message', (msg) => {
  if (msg.type === 'spans') {
    const done = new Promise((resolve) => {
      exporter.export(msg.spans.map(fromWire), (result) => {
        parentPort.postMessage({ type: 'exported', spans: msg.spans.length, ok: result.code === 0, error: result.error?.message });
        resolve();
      });
    });
    pending.add(done);
    done.then(() => pending.delete(done));
    return;
  }
  Promise.all(pending).then(async () => {
    if (msg.type === 'shutdown') await exporter.shutdown();
    else await exporter.forceFlush();
    parentPort.postMessage({ type: 'done', id: msg.id });
  });
});
