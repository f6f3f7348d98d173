// Throughput of the three ways to call a model over the KServe V2 protocol, in one run: JSON REST, binary
// REST (binary tensor data extension) and gRPC (raw_input_contents), for one 256-float row per request
// into an MLP [256, 64, 10] served with no code (runner pool with adaptive batching, as `tiffin serve
// --models` does). Loopback only; load comes from a separate process, so the server's event loop does only the
// server's work: h2load (nghttp2, in C; Debian's nghttp2-client) for all three when it is on PATH, else autocannon
// for REST and a @grpc/grpc-js client for gRPC. The JavaScript gRPC client costs far more CPU per call than
// autocannon on the shared cores, so only h2load compares the protocols' req/s fairly; the server's own CPU per row
// is reported either way.
//
// Run: npx tsx bench/protocols.ts
// Env: BENCH_DURATION seconds per protocol in all (default 10), BENCH_ROUNDS interleaved rounds those
//      seconds are split into, so that background noise hits every protocol alike (default 5; each row
//      reports the median round), BENCH_CONCURRENCY requests in flight (default 32), BENCH_REPLICAS
//      runner replicas (default 1), BENCH_LOADER runner | in-process (default runner), BENCH_ROWS rows per
//      request (default 1; larger shows how the JSON cost grows with the tensor), BENCH_LOADGEN h2load | node
//      (default h2load when installed), BENCH_LAYERS the MLP's layer widths (default 256,64,10; the batching
//      benchmark's is 256,1024,1024,10). The last line compares the best protocol with the model's own limit:
//      in-process session.run rows/s at its best batch size and thread count (the issue 26 moonshot).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { Models } from '../src/models/index.ts';
import { mlp, mlpForward, mlpParams } from '../src/onnx/index.ts';
import { INFERENCE_SERVICE, loadInferenceProto } from '../src/protocols/kserve-v2/grpc-proto.ts';
import { inProcessLoader } from '../src/repository/index.ts';
import { serveModels } from '../src/serving/index.ts';
import { ModelStore } from '../src/store/index.ts';
import { rawThroughput } from './lib/raw-throughput.ts';

const WIDTH = 256;
const LAYERS = (process.env.BENCH_LAYERS ?? `${WIDTH},64,10`).split(',').map(Number);
if (LAYERS[0] !== WIDTH) throw new Error(`BENCH_LAYERS must start with ${WIDTH}`);
const SEED = 11;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const ROUND_S = Math.max(1, Math.round(DURATION_S / ROUNDS));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const REPLICAS = Number(process.env.BENCH_REPLICAS ?? 1);
const LOADER = process.env.BENCH_LOADER ?? 'runner';
const ROWS = Math.max(1, Number(process.env.BENCH_ROWS ?? 1));
const H2LOAD = (process.env.BENCH_LOADGEN ?? 'h2load') === 'h2load' && spawnSync('h2load', ['--version']).status === 0;

type Unary = (request: unknown, callback: (err: grpc.ServiceError | null, response: { raw_output_contents: Buffer[] }) => void) => void;

function inferenceClient(port: number): { client: grpc.Client; infer: (request: unknown) => Promise<{ raw_output_contents: Buffer[] }> } {
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = (client as unknown as { ModelInfer: Unary }).ModelInfer.bind(client);
  return { client, infer: (request) => new Promise((resolve, reject) => call(request, (err, res) => (err ? reject(err) : resolve(res)))) };
}

/** The request's input: ROWS rows of WIDTH floats. */
function rows(): Float32Array {
  return Float32Array.from({ length: ROWS * WIDTH }, (_, i) => Math.sin(i));
}

function grpcRequest(): unknown {
  const data = rows();
  return {
    model_name: 'mlp',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, WIDTH] }],
    raw_input_contents: [Buffer.from(data.buffer)],
  };
}

/**
 * The child process that drives gRPC load: `concurrency` calls in flight on one @grpc/grpc-js channel for
 * `seconds`. Like autocannon's prepared body, the request is encoded once and the response bytes are not
 * decoded, so the load generator spends its CPU on the transport rather than on protobuf objects.
 */
async function grpcLoad(port: number, concurrency: number, seconds: number): Promise<void> {
  const definition = loadInferenceProto()[INFERENCE_SERVICE] as Record<string, grpc.MethodDefinition<unknown, unknown>>;
  const method = definition.ModelInfer!;
  const encoded = method.requestSerialize(grpcRequest());
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const same = (b: Buffer): Buffer => b;
  const infer = (): Promise<Buffer> => new Promise((resolve, reject) => {
    client.makeUnaryRequest(method.path, same, same, encoded, (err, res) => (err ? reject(err) : resolve(res!)));
  });
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  let errors = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        await infer();
        latencies.push(performance.now() - t0);
      } catch {
        errors++;
      }
    }
  }));
  client.close();
  latencies.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ requests: latencies.length / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), errors }));
}

/** The slice of autocannon's programmatic API used here (it ships no types). */
interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  errors: number;
  non2xx: number;
}
type Autocannon = (options: {
  url: string; connections: number; duration: number; method: 'POST'; headers: Record<string, string>; body: Buffer;
}) => Promise<AutocannonResult>;

/**
 * The child process that drives REST load with autocannon's API (its CLI reads a body file as UTF-8,
 * which would mangle binary tensor data).
 */
async function restLoad(url: string, bodyFile: string, headers: Record<string, string>, concurrency: number, seconds: number): Promise<void> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const out = await autocannon({ url, connections: concurrency, duration: seconds, method: 'POST', headers, body: await readFile(bodyFile) });
  process.stdout.write(JSON.stringify({ requests: out.requests.average, p50: out.latency.p50, p99: out.latency.p99, errors: out.errors + out.non2xx }));
}

interface Result {
  name: string;
  /** Requests per second. */
  rps: number;
  /** Server process CPU (main thread and runner threads) per request, in microseconds. */
  cpuUs?: number;
  p50: number;
  p99: number;
  errors: number;
  bodyBytes: number;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}`))));
  });
}

interface LoadReport {
  requests: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Runs this file again as a load generator in its own process. */
async function loadFrom(args: string[]): Promise<LoadReport> {
  const self = fileURLToPath(import.meta.url);
  return JSON.parse(await run(process.execPath, ['--import', 'tsx', self, ...args])) as LoadReport;
}

/** The h2load run's figures: requests done, status classes, DATA bytes, per-request latencies (from its log file). */
async function h2load(args: string[], logFile: string): Promise<{ succeeded: number; failed: number; non2xx: number; dataBytes: number; latencies: number[] }> {
  const out = await run('h2load', ['-D', String(ROUND_S), `--log-file=${logFile}`, ...args]);
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const latencies = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean).map((line) => Number(line.split('\t')[2]) / 1000);
  return {
    succeeded: num(/(\d+) succeeded/),
    failed: num(/(\d+) failed/) + num(/(\d+) errored/) + num(/(\d+) timeout/),
    non2xx: num(/(\d+) 3xx/) + num(/(\d+) 4xx/) + num(/(\d+) 5xx/),
    dataBytes: num(/headers \(space savings [^)]*\), \S+ \((\d+)\) data/),
    latencies: latencies.sort((a, b) => a - b),
  };
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

/**
 * REST load from h2load over HTTP/1.1, CONCURRENCY keep-alive connections with one request at a time each (as
 * autocannon). gRPC load from h2load over one HTTP/2 connection with CONCURRENCY streams (as a gRPC channel).
 * h2load reads only HTTP status, and a gRPC failure is a 200 with grpc-status in its trailers and no message, so a
 * gRPC call counts as failed when the DATA bytes fall short of one answer (`answerBytes`) per call.
 */
async function h2loadBench(name: string, url: string, bodyFile: string, bodyBytes: number, headers: Record<string, string>, grpcAnswerBytes?: number): Promise<Result> {
  const headerArgs = Object.entries(headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const shape = grpcAnswerBytes === undefined ? ['--h1', '-c', String(CONCURRENCY), '-m', '1'] : ['-c', '1', '-m', String(CONCURRENCY)];
  const r = await h2load([...shape, '-d', bodyFile, ...headerArgs, url], `${bodyFile}.log`);
  let errors = r.failed + r.non2xx;
  if (grpcAnswerBytes !== undefined) errors += Math.max(0, r.succeeded - Math.floor(r.dataBytes / grpcAnswerBytes));
  return { name, rps: r.succeeded / ROUND_S, p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99), errors, bodyBytes };
}

async function restBench(name: string, url: string, bodyFile: string, bodyBytes: number, headers: Record<string, string>): Promise<Result> {
  const out = await loadFrom(['rest-load', url, bodyFile, JSON.stringify(headers), String(CONCURRENCY), String(ROUND_S)]);
  return { name, rps: out.requests, p50: out.p50, p99: out.p99, errors: out.errors, bodyBytes };
}

async function grpcBench(port: number, bodyBytes: number): Promise<Result> {
  const out = await loadFrom(['grpc-load', String(port), String(CONCURRENCY), String(ROUND_S)]);
  return { name: 'gRPC (raw_input_contents)', rps: out.requests, p50: out.p50, p99: out.p99, errors: out.errors, bodyBytes };
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > 1e-3) throw new Error(`${what}: output ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-bench-protocols-'));
  const models = new Models(new ModelStore(join(dir, 'store')));
  const params = mlpParams({ layers: LAYERS, seed: SEED });
  await writeFile(join(dir, 'mlp.onnx'), mlp(params));
  await models.save('mlp:1', join(dir, 'mlp.onnx'), { framework: 'onnx', batchable: true });

  const server = await serveModels({
    models: [{ name: 'mlp' }],
    store: models.store,
    ...(LOADER === 'in-process' ? { loader: inProcessLoader(models, { intraOpThreads: 1, executionProviders: ['cpu'] }) } : { runner: { replicas: REPLICAS } }),
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: { port: 0, host: '127.0.0.1' },
  });
  try {
    await server.ready;
    const url = `${server.url}/v2/models/mlp/infer`;
    const input = rows();
    const expected = mlpForward(params, input, ROWS);

    const jsonBody = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, WIDTH], data: Array.from(input) }] }));
    const head = Buffer.from(JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [ROWS, WIDTH], parameters: { binary_data_size: input.byteLength } }],
      parameters: { binary_data_output: true },
    }));
    const binaryBody = Buffer.concat([head, Buffer.from(input.buffer)]);
    await writeFile(join(dir, 'json.body'), jsonBody);
    await writeFile(join(dir, 'binary.body'), binaryBody);

    // Every form must give the right answer before it is timed.
    const viaJson = (await (await fetch(url, { method: 'POST', body: jsonBody, headers: { 'content-type': 'application/json' } })).json()) as { outputs: { data: number[] }[] };
    assertClose(viaJson.outputs[0]!.data, expected, 'JSON REST');
    const viaBinary = Buffer.from(await (await fetch(url, { method: 'POST', body: binaryBody, headers: { 'inference-header-content-length': String(head.byteLength) } })).arrayBuffer());
    const outBytes = expected.byteLength;
    const tail = viaBinary.subarray(viaBinary.byteLength - outBytes);
    assertClose(new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + outBytes)), expected, 'binary REST');
    const { client, infer } = inferenceClient(server.grpc!.port);
    const viaGrpc = (await infer(grpcRequest())).raw_output_contents[0]!;
    client.close();
    assertClose(new Float32Array(viaGrpc.buffer.slice(viaGrpc.byteOffset, viaGrpc.byteOffset + outBytes)), expected, 'gRPC');

    const cpu = cpus()[0]?.model ?? 'unknown CPU';
    console.log(`Tiffin protocol throughput: MLP [${LAYERS.join(', ')}], ${ROWS === 1 ? 'one' : ROWS} ${WIDTH}-float row${ROWS === 1 ? '' : 's'} per request, ${CONCURRENCY} in flight, ${ROUNDS} interleaved rounds of ${ROUND_S} s per protocol`);
    console.log(`server: ${LOADER === 'in-process' ? 'in-process model' : `runner pool, ${REPLICAS} replica(s), adaptive batching`}; ${availableParallelism()} cores (${cpu}); Node ${process.version}`);
    console.log(`load: ${H2LOAD ? 'h2load (HTTP/1.1 for REST, one HTTP/2 connection for gRPC)' : 'autocannon for REST, a @grpc/grpc-js client for gRPC (install nghttp2-client for h2load)'}\n`);
    const binaryHeaders = { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.byteLength) };
    const jsonHeaders = { 'content-type': 'application/json' };
    let benches: (() => Promise<Result>)[];
    if (H2LOAD) {
      // A gRPC message on the wire: a 5-byte prefix (not compressed, big-endian length), then the protobuf bytes.
      const method = (loadInferenceProto()[INFERENCE_SERVICE] as Record<string, grpc.MethodDefinition<unknown, unknown>>).ModelInfer!;
      const message = method.requestSerialize(grpcRequest());
      const frame = Buffer.alloc(5 + message.byteLength);
      frame.writeUInt32BE(message.byteLength, 1);
      message.copy(frame, 5);
      await writeFile(join(dir, 'grpc.body'), frame);
      const grpcUrl = `http://127.0.0.1:${server.grpc!.port}/${INFERENCE_SERVICE}/ModelInfer`;
      benches = [
        () => h2loadBench('JSON REST', url, join(dir, 'json.body'), jsonBody.byteLength, jsonHeaders),
        () => h2loadBench('binary REST', url, join(dir, 'binary.body'), binaryBody.byteLength, binaryHeaders),
        () => h2loadBench('gRPC (raw_input_contents)', grpcUrl, join(dir, 'grpc.body'), input.byteLength, { 'content-type': 'application/grpc', te: 'trailers' }, outBytes),
      ];
    } else {
      benches = [
        () => restBench('JSON REST', url, join(dir, 'json.body'), jsonBody.byteLength, jsonHeaders),
        () => restBench('binary REST', url, join(dir, 'binary.body'), binaryBody.byteLength, binaryHeaders),
        () => grpcBench(server.grpc!.port, input.byteLength),
      ];
    }
    /** Runs one bench and charges it the server process's CPU time (all its threads) per request. */
    const measured = async (bench: () => Promise<Result>): Promise<Result> => {
      const before = process.cpuUsage();
      const result = await bench();
      const used = process.cpuUsage(before);
      result.cpuUs = (used.user + used.system) / Math.max(1, result.rps * ROWS * ROUND_S);
      return result;
    };
    const rounds: Result[][] = benches.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, bench] of benches.entries()) rounds[i]!.push(await measured(bench));
    }
    const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const results: Result[] = rounds.map((runs) => ({
      ...runs[0]!,
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      cpuUs: median(runs.map((r) => r.cpuUs ?? 0)),
      errors: runs.reduce((n, r) => n + r.errors, 0),
    }));

    const json = results[0]!.rps;
    console.log('protocol                    request bytes    rows/s   p50 ms   p99 ms   server CPU µs/row   errors   vs JSON');
    for (const r of results) {
      console.log(`${r.name.padEnd(26)}  ${String(r.bodyBytes).padStart(13)}  ${(r.rps * ROWS).toFixed(0).padStart(8)}  ${r.p50.toFixed(2).padStart(7)}  ${r.p99.toFixed(2).padStart(7)}  ${(r.cpuUs ?? 0).toFixed(0).padStart(18)}  ${String(r.errors).padStart(7)}  ${(r.rps / json).toFixed(2).padStart(7)}x`);
    }
    console.log(`\nbinary REST / JSON REST = ${(results[1]!.rps / json).toFixed(2)}x; gRPC / JSON REST = ${(results[2]!.rps / json).toFixed(2)}x`);
    // Measured after the load, with the server idle, so the two do not compete for the cores.
    const raw = [];
    for (const threads of [1, availableParallelism()]) raw.push(...(await rawThroughput(join(dir, 'mlp.onnx'), threads, [1, 8, 32, 128], 1000)));
    const best = raw.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));
    const fastest = results.reduce((a, b) => (b.rps > a.rps ? b : a));
    console.log(`in-process session.run, best: ${best.rowsPerSecond.toFixed(0)} rows/s (batch ${best.batch}, ${best.threads} thread(s)); `
      + `${fastest.name} serves ${((fastest.rps * ROWS / best.rowsPerSecond) * 100).toFixed(0)}% of it`);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'grpc-load') {
  await grpcLoad(Number(args[0]), Number(args[1]), Number(args[2]));
} else if (mode === 'rest-load') {
  await restLoad(args[0]!, args[1]!, JSON.parse(args[2]!) as Record<string, string>, Number(args[3]), Number(args[4]));
} else {
  await main();
}
