// RemoteRunner against real gRPC servers on loopback that speak inference.GRPCInferenceService from the same
// .proto, each answering as a test tells it: what crosses the wire (raw tensors, request id, traceparent,
// deadline), cancellation, retries on another endpoint, and the errors a caller sees.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { tmpdir } from 'node:os';
import { loadConfig } from '../config/index.ts';
import { isTiffinError } from '../errors/index.ts';
import { loadInferenceProto, type ModelInferRequest, type ModelInferResponse } from '../protocols/kserve-v2/grpc-proto.ts';
import { tensorFromRaw, tensorToRaw } from '../protocols/kserve-v2/raw-tensor.ts';
import { Cancellation } from '../runtime/cancellation.ts';
import { tensor } from '../runtime/tensor.ts';
import { runnersSectionSchema } from './config.ts';
import { RemoteRunner } from './remote-runner.ts';

type Handler = (call: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponse>, done: grpc.sendUnaryData<ModelInferResponse>) => void;

interface FakeRunner {
  address: string;
  calls: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponse>[];
  handle: Handler;
  server: grpc.Server;
}

/** Doubles every element of input "x" (float32) into output "y". */
const doubling: Handler = (call, done) => {
  const req = call.request;
  const x = tensorFromRaw('float32', req.inputs[0]!.shape.map(Number), req.raw_input_contents![0]!, 'x');
  const y = Float32Array.from(x.data as Float32Array, (v) => v * 2);
  done(null, { model_name: req.model_name, model_version: '1', id: req.id ?? '', outputs: [{ name: 'y', datatype: 'FP32', shape: x.shape }], raw_output_contents: [tensorToRaw({ dtype: 'float32', shape: x.shape, data: y })] });
};

async function fakeRunner(): Promise<FakeRunner> {
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const server = new grpc.Server();
  const fake: FakeRunner = { address: '', calls: [], handle: doubling, server };
  server.addService(pkg.inference.GRPCInferenceService.service, {
    ModelInfer: (call: grpc.ServerUnaryCall<ModelInferRequest, ModelInferResponse>, done: grpc.sendUnaryData<ModelInferResponse>) => {
      fake.calls.push(call);
      fake.handle(call, done);
    },
    ModelReady: (_call: unknown, done: grpc.sendUnaryData<{ ready: boolean }>) => done(null, { ready: true }),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  fake.address = `127.0.0.1:${port}`;
  return fake;
}

const feeds = () => ({ x: tensor('float32', [2, 2], Float32Array.from([1, 2, 3, 4])) });

describe('RemoteRunner', () => {
  let a: FakeRunner;
  let b: FakeRunner;
  const runners: RemoteRunner[] = [];
  const runnerOf = (...endpoints: string[]): RemoteRunner => {
    const r = new RemoteRunner('net', { endpoints }, { pollMs: 200 });
    runners.push(r);
    return r;
  };

  before(async () => {
    [a, b] = await Promise.all([fakeRunner(), fakeRunner()]);
  });
  after(() => {
    for (const r of runners) r.close();
    a.server.forceShutdown();
    b.server.forceShutdown();
  });

  it('sends tensors as raw_input_contents with the request id, traceparent, priority and remaining deadline, and decodes the answer', async () => {
    a.handle = doubling;
    a.calls.length = 0;
    const runner = runnerOf(a.address);
    const span = trace.wrapSpanContext({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED });
    const out = await runner.infer(feeds(), { requestId: 'req-42', timeoutMs: 5000, priority: 3, outputs: ['y'], traceContext: trace.setSpan(ROOT_CONTEXT, span) });
    assert.deepEqual([...(out.y!.data as Float32Array)], [2, 4, 6, 8]);
    assert.deepEqual(out.y!.shape, [2, 2]);
    const call = a.calls[0]!;
    assert.equal(call.request.id, 'req-42');
    assert.equal(call.request.raw_input_contents!.length, 1);
    assert.deepEqual(call.request.inputs.map((i) => [i.name, i.datatype, i.shape.map(Number)]), [['x', 'FP32', [2, 2]]]);
    assert.deepEqual(call.request.outputs!.map((o) => o.name), ['y']);
    assert.equal(call.metadata.get('x-request-id')[0], 'req-42');
    assert.equal(call.metadata.get('traceparent')[0], '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    assert.equal(Number(call.request.parameters!.priority!.int64_param), 3);
    const timeoutUs = Number(call.request.parameters!.timeout!.int64_param);
    assert.ok(timeoutUs > 4_000_000 && timeoutUs <= 5_000_000, `timeout parameter ${timeoutUs} µs`);
    const left = Number(call.getDeadline()) - Date.now(); // a Date or epoch ms, as grpc-js gives it
    assert.ok(left <= 5000 && left > 3000, `the gRPC deadline is ${left} ms away`);
  });

  it('gives up at the deadline with TIMEOUT naming the runner, and the runner sees the call cancelled', async () => {
    a.calls.length = 0;
    let cancelled = false;
    a.handle = (call) => call.once('cancelled', () => (cancelled = true)); // never answers
    const runner = runnerOf(a.address);
    const t0 = performance.now();
    await assert.rejects(runner.infer(feeds(), { timeoutMs: 300 }), (e) => isTiffinError(e, 'TIMEOUT') && /model net/.test(e.message) && /300 ms/.test(e.message));
    const took = performance.now() - t0;
    assert.ok(took >= 280 && took < 2000, `took ${took} ms`);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled, 'the runner saw the deadline pass');
  });

  it('cancels the call when the signal fires: ABORTED, and the runner sees the cancellation', async () => {
    a.calls.length = 0;
    let cancelled = false;
    a.handle = (call) => call.once('cancelled', () => (cancelled = true));
    const runner = runnerOf(a.address);
    const signal = new Cancellation();
    const running = runner.infer(feeds(), { signal });
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(a.calls.length, 1);
    signal.abort();
    await assert.rejects(running, (e) => isTiffinError(e, 'ABORTED') && /model net/.test(e.message));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(cancelled, 'the runner saw the cancellation');
    // Already aborted: nothing is sent.
    await assert.rejects(runner.infer(feeds(), { signal }), (e) => isTiffinError(e, 'ABORTED'));
    assert.equal(a.calls.length, 1);
  });

  it('sends a call that got UNAVAILABLE to the other endpoint', async () => {
    a.calls.length = b.calls.length = 0;
    a.handle = (_call, done) => done({ code: grpc.status.UNAVAILABLE, details: 'the server is shutting down; retry against another instance' });
    b.handle = doubling;
    const runner = runnerOf(a.address, b.address);
    for (let i = 0; i < 4; i++) {
      const out = await runner.infer(feeds());
      assert.deepEqual([...(out.y!.data as Float32Array)], [2, 4, 6, 8]);
    }
    assert.equal(b.calls.length, 4);
    assert.ok(a.calls.length >= 1, 'round robin tried the failing endpoint too');
  });

  it('reports, once, a runner that answers with another version than the API expected', async () => {
    a.handle = doubling; // answers model_version 1
    const seen: string[] = [];
    const runner = new RemoteRunner('net', { endpoints: [a.address] }, { onVersionMismatch: (_r, expected, answered) => seen.push(`${expected}>${answered}`) });
    runners.push(runner);
    await runner.infer(feeds(), {}, '1');
    assert.deepEqual(seen, []);
    await runner.infer(feeds(), {}, '2');
    await runner.infer(feeds(), {}, '2');
    assert.deepEqual(seen, ['2>1']);
  });

  it('does not retry the runner\'s own refusal: its message and a 4xx code reach the caller', async () => {
    b.calls.length = 0;
    b.handle = (_call, done) => done({ code: grpc.status.INVALID_ARGUMENT, details: 'input "x": shape [2, 2] does not match the model\'s [-1, 3]' });
    const runner = runnerOf(b.address);
    await assert.rejects(runner.infer(feeds()), (e) => isTiffinError(e, 'TENSOR_INVALID') && e.status === 400 && /model net/.test(e.message) && /\[-1, 3\]/.test(e.message));
    assert.equal(b.calls.length, 1);
  });

  it('RUNNER_UNAVAILABLE naming the runner and each endpoint when every try fails; readiness says why', async () => {
    const dead = '127.0.0.1:1'; // nothing listens on port 1
    a.handle = (_call, done) => done({ code: grpc.status.UNAVAILABLE, details: 'overloaded' });
    const runner = runnerOf(a.address, dead);
    await assert.rejects(runner.infer(feeds(), { timeoutMs: 5000 }), (e) => {
      assert.ok(isTiffinError(e, 'RUNNER_UNAVAILABLE'), String(e));
      assert.equal(e.status, 503);
      assert.match(e.message, /model net/);
      assert.match(e.message, new RegExp(a.address));
      assert.match(e.message, /127\.0\.0\.1:1/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(runnerOf(dead).ready, false);
    const lone = runnerOf(dead);
    await new Promise((r) => setTimeout(r, 400));
    assert.match(lone.notReady() ?? '', /model net has no ready endpoint \(127\.0\.0\.1:1: UNAVAILABLE/);
  });
});

describe('runners config section', () => {
  it('reads TIFFIN_RUNNERS text, bare endpoints and full entries; refuses a bad endpoint with a message', () => {
    assert.deepEqual(runnersSectionSchema.parse('iris=10.0.0.5:8001|10.0.0.6:8001,ocr=dns:///ocr-runner.ml.svc.cluster.local:8001'), {
      iris: { endpoints: ['10.0.0.5:8001', '10.0.0.6:8001'] },
      ocr: { endpoints: ['dns:///ocr-runner.ml.svc.cluster.local:8001'] },
    });
    assert.deepEqual(runnersSectionSchema.parse({ iris: ['a:1', 'b:2'], ocr: { endpoints: ['c:3'], token: 't', tls: true } }), {
      iris: { endpoints: ['a:1', 'b:2'] },
      ocr: { endpoints: ['c:3'], token: 't', tls: true },
    });
    const bad = runnersSectionSchema.safeParse({ iris: 'http://iris:8001' });
    assert.equal(bad.success, false);
    assert.match(bad.error!.issues[0]!.message, /gRPC endpoint host:port/);
  });

  it('loads from TIFFIN_RUNNERS through the config loader, and a bad value names the variable', () => {
    const config = loadConfig({ cwd: tmpdir(), env: { TIFFIN_RUNNERS: 'mlp=127.0.0.1:9001|127.0.0.1:9002' } });
    assert.deepEqual(config.runners, { mlp: { endpoints: ['127.0.0.1:9001', '127.0.0.1:9002'] } });
    assert.deepEqual(loadConfig({ cwd: tmpdir(), env: {} }).runners, {});
    assert.throws(() => loadConfig({ cwd: tmpdir(), env: { TIFFIN_RUNNERS: 'mlp=http://runner' } }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /TIFFIN_RUNNERS/.test(e.message) && /gRPC endpoint/.test(e.message));
  });
});
