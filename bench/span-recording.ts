// What a traced request's spans cost on the event loop, in one process, side by side: Tiffin's recorded spans
// (src/telemetry/recorded-span.ts), copied out for the export worker a batch at a time (as Tiffin does now);
// the OpenTelemetry SDK's tracer into the same processor; and the SDK's tracer with each span copied out as it
// ends (as Tiffin did until 2026-12-01). A traced request
// makes the six spans a served request gets (SERVER, tiffin.inference, tiffin.queue, tiffin.batch with a link,
// tiffin.model.run) into the same export-worker span processor. Between traced requests the loop does a small
// request's other work (parse a 256-number JSON body, copy it to a Float32Array, write a JSON answer), because
// how often the tracing code runs decides how warm it is: at Tiffin's default of 100 new traces a second, a
// server at 10,000 requests a second traces one request in a hundred. The cost is timed around each traced
// request. What cold tracing code does to the requests around it (evicting theirs from the caches) is not in
// it: the loop's total against an untraced loop would count it, but on the 2-core VM that difference was
// smaller than the loop's own noise whenever fewer than one request in ten was traced. One row traces runs of ten
// consecutive requests, as Tiffin's default sampler hands out its allowance in steps: they share one batch (one
// tiffin.batch linked to all ten, one tiffin.model.run), and the tracing code runs ten times in a row.
//
// Run: npm run bench -- span-recording   (or: npx tsx bench/span-recording.ts)
// Env: BENCH_ITERATIONS requests per timed loop (100000), BENCH_REPEATS timed loops per case (5).
import { availableParallelism, cpus } from 'node:os';
import { ROOT_CONTEXT, SpanKind, trace, type Context, type Span } from '@opentelemetry/api';
import { AlwaysOnSampler, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Tracing } from '../src/telemetry/tracing/tracing.ts';
import { toWireJson } from '../src/telemetry/tracing/span-wire.ts';
import { WorkerSpanProcessor } from '../src/telemetry/tracing/worker-span-processor.ts';
import { requestBody } from './lib/model.ts';
import { fixed, markdownTable } from './lib/table.ts';

const N = Number(process.env.BENCH_ITERATIONS ?? 100_000);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
// Nothing listens on port 9: the worker's exports fail, off the event loop, which is not what is measured.
const COLLECTOR = 'http://127.0.0.1:9/v1/traces';

interface Spans {
  root(): { span: Span; context: Context };
  child(name: string, parent: Context, attributes: Record<string, string | number>, startTime?: number, links?: Context[]): Span;
  endRoot(span: Span): void;
}

const tiffin = new Tracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, registerGlobal: false, maxTracesPerSecond: 1e12 });
const tiffinSpans: Spans = {
  root: () => tiffin.startRequest('POST', '/predict', '/predict', {}),
  child: (name, parent, attributes, startTime, links) =>
    links ? tiffin.startBatchSpan(name, links, attributes, startTime) : tiffin.startSpan(name, parent, { attributes, ...(startTime ? { startTime } : {}) }),
  endRoot: (span) => tiffin.endRequest(span, 200),
};

/** The SDK's tracer into `processor`. */
function sdk(processor: SpanProcessor): { spans: Spans; provider: NodeTracerProvider } {
  const provider = new NodeTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
  const tracer = provider.getTracer('tiffin');
  const spans: Spans = {
    root: () => {
      const span = tracer.startSpan('POST /predict', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'url.path': '/predict', 'http.route': '/predict' } }, ROOT_CONTEXT);
      return { span, context: trace.setSpan(ROOT_CONTEXT, span) };
    },
    child: (name, parent, attributes, startTime, links) =>
      tracer.startSpan(name, { attributes, ...(startTime ? { startTime } : {}), ...(links ? { links: links.map((c) => ({ context: trace.getSpanContext(c)! })) } : {}) }, links ? links[0] : parent),
    endRoot: (span) => {
      span.setAttribute('http.response.status_code', 200);
      span.end();
    },
  };
  return { spans, provider };
}

/** The earlier WorkerSpanProcessor's event-loop work: each span copied out as JSON as it ends (posting the copies,
 * once per 512 spans or 200 ms, is left out on both sides: too rare to count). */
class CopyAtEnd implements SpanProcessor {
  private held: string[] = [];
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.held.push(toWireJson(span));
    if (this.held.length >= 512) this.held = [];
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

const sdkBatched = sdk(new WorkerSpanProcessor({ url: COLLECTOR, protocol: 'http/protobuf', resource: {} }));
const sdkAtEnd = sdk(new CopyAtEnd());
const variants = [
  ['before: SDK tracer, copied at end', sdkAtEnd.spans],
  ['SDK tracer, copied in batches', sdkBatched.spans],
  ["now: Tiffin's spans, copied in batches", tiffinSpans],
] as const;

/** `k` consecutive traced requests, as a burst of Tiffin's default sampler has them: each its SERVER,
 * tiffin.inference and tiffin.queue spans; one batch (linked to all k) and one model run for the lot, since
 * consecutive requests share a batch. k = 1 is a lone traced request with a batch of its own. */
function tracedRun(s: Spans, k: number): void {
  const reqs: { span: Span; context: Context }[] = [];
  const calls: Context[] = [];
  const inferences: Span[] = [];
  for (let j = 0; j < k; j++) {
    const req = s.root();
    req.span.setAttribute('tiffin.request_id', `r-${j}`);
    const inference = s.child('tiffin.inference', req.context, { 'tiffin.model': 'mlp:1', 'tiffin.model.key': 'mlp', 'tiffin.model.method': 'run' });
    reqs.push(req);
    inferences.push(inference);
    calls.push(trace.setSpan(req.context, inference));
  }
  const now = Date.now();
  for (const call of calls) s.child('tiffin.queue', call, { 'tiffin.model': 'mlp', 'tiffin.model.version': '1' }, now - 2).end(now - 1);
  const batch = s.child('tiffin.batch', calls[0]!, { 'tiffin.model': 'mlp', 'tiffin.model.version': '1', 'tiffin.batch.size': 25, 'tiffin.batch.reason': 'full' }, now - 1, calls);
  s.child('tiffin.model.run', trace.setSpan(calls[0]!, batch), { 'tiffin.model': 'mlp', 'tiffin.batch.size': 25 }, now - 1).end();
  batch.end();
  for (let j = 0; j < k; j++) {
    inferences[j]!.end();
    s.endRoot(reqs[j]!.span);
  }
}

const body = Buffer.from(requestBody());
let sink = 0;
function otherWork(i: number): void {
  const parsed = JSON.parse(body.toString('utf8')) as { input: number[] };
  const row = Float32Array.from(parsed.input);
  sink += JSON.stringify({ output: Array.from(row.subarray(0, 10)), i }).length;
}

/** One loop of N requests, a run of `run` consecutive ones traced every `every`; the traced ones' own time in µs
 * each. */
function loop(s: Spans, every: number, run: number): number {
  let own = 0;
  let traced = 0;
  for (let i = 0; i < N; i += run) {
    for (let j = 0; j < run; j++) otherWork(i + j);
    if (i % every === 0) {
      const t = performance.now();
      tracedRun(s, run);
      own += performance.now() - t;
      traced += run;
    }
  }
  return (own * 1000) / traced;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

console.log(`Node ${process.version}, ${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'}); ${N} requests per loop, median of ${REPEATS}`);
const cases: [string, number, number][] = [
  ['every request traced', 1, 1],
  ['1 in 100 traced', 100, 1],
  ['1 in 100 traced, in runs of 10 (one run in 1,000)', 1000, 10],
  ['1 in 1,000 traced', 1000, 1],
];
const rows: string[][] = [];
for (const [label, every, run] of cases) {
  const own: number[][] = variants.map(() => []);
  for (let w = 0; w < 2; w++) for (const [, s] of variants) loop(s, every, run); // warm-up
  for (let r = 0; r < REPEATS; r++) {
    // Order reversed every other round, so that drift falls on all alike.
    for (const v of r % 2 === 0 ? [0, 1, 2] : [2, 1, 0]) own[v]!.push(loop(variants[v]![1], every, run));
  }
  const o = own.map(median);
  rows.push([label, ...o.map((t) => fixed(t, 1)), fixed(o[0]! / o[2]!, 2)]);
}
console.log('\n' + markdownTable(['traced requests', ...variants.map(([v]) => `${v} (µs per traced request)`), 'before / now'], rows));
console.log(`(checksum ${sink % 1000})`);
await Promise.all([tiffin.shutdown(), sdkBatched.provider.shutdown(), sdkAtEnd.provider.shutdown()]);
