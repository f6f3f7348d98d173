// SIGTERM under load, from the outside: `tiffin serve --models` as a real child process, a model whose calls
// take ~200 ms, closed-loop clients over V2 REST and V2 gRPC. Every request sent before the signal completes
// (200 / OK), readiness turns false while the in-flight requests drain and the listeners are still open, new
// connections are refused once they close (never left hanging), and the process exits 0 within the grace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { Models } from '../../src/models/index.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { ModelStore } from '../../src/store/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const BIN = fileURLToPath(new URL('../../bin/tiffin.js', import.meta.url));
const GRACE_MS = 10_000;
const CLIENTS = 6; // per transport

/** A custom model whose every call takes 200 ms (a timer, so calls overlap in the replica) and echoes its input. */
const SLOW_MODEL = `
export default class Slow {
  async run(feeds: Record<string, unknown>) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    return { output: feeds.input };
  }
}
`;

async function storeWithSlowModel(): Promise<string> {
  const home = await tempDir('drain-home');
  const src = join(await tempDir('drain-src'), 'slow');
  await mkdir(src);
  await writeFile(join(src, 'model.ts'), SLOW_MODEL);
  await new Models(new ModelStore(join(home, 'models'))).save('slow:1', src, { framework: 'custom' });
  return home;
}

interface Outcome {
  transport: 'http' | 'grpc';
  /** Sent before SIGTERM (performance.now() is compared with the signal's time). */
  sentAt: number;
  doneAt: number;
  /** HTTP status, or `grpc:<code name>`, or `error:<message>` for a failed connection. */
  result: string;
}

const row = [1, 2, 3, 4];
const V2_BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] });
const GRPC_REQUEST = { model_name: 'slow', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: row } }] };

/** The cause's code of a failed fetch (ECONNREFUSED...), or `timeout` when our own deadline ended it. */
function failure(err: unknown): string {
  if ((err as Error).name === 'TimeoutError') return 'timeout';
  return (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
}

test('SIGTERM under HTTP and gRPC load: accepted requests complete, readiness turns false first, then the ports refuse, exit 0', { timeout: 90_000 }, async (t) => {
  const home = await storeWithSlowModel();
  const child = spawn(process.execPath, [BIN, 'serve', '--models', 'slow', '--port', '0', '--grpc-port', '0'], {
    env: { ...process.env, TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn', TIFFIN_SHUTDOWN_GRACE_MS: String(GRACE_MS), TIFFIN_POLL_INTERVAL: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const startBy = Date.now() + 60_000;
  while (!/ready at http/.test(out)) {
    assert.ok(Date.now() < startBy && child.exitCode === null, `not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
  const grpcAddress = /gRPC\s+(127\.0\.0\.1:\d+)/.exec(out)![1]!;

  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  type Infer = (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void;
  const newClient = () => new pkg.inference.GRPCInferenceService(grpcAddress, grpc.credentials.createInsecure());
  const client = newClient();
  t.after(() => client.close());
  const grpcInfer = (target: grpc.Client, deadlineMs: number) =>
    new Promise<string>((resolve) => {
      (target as unknown as { ModelInfer: Infer }).ModelInfer(GRPC_REQUEST, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) =>
        resolve(err ? `grpc:${grpc.status[err.code]}` : 'grpc:OK'),
      );
    });
  const httpInfer = async (deadlineMs: number, headers: Record<string, string> = {}) => {
    try {
      const res = await fetch(`${url}/v2/models/slow/infer`, { method: 'POST', body: V2_BODY, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(deadlineMs) });
      await res.arrayBuffer();
      return String(res.status);
    } catch (err) {
      return `error:${failure(err)}`;
    }
  };

  // Closed loops, each with a deadline past the grace as a hang detector; a client stops sending once the signal went out.
  const outcomes: Outcome[] = [];
  let signalledAt = Infinity;
  const loop = async (transport: 'http' | 'grpc') => {
    while (performance.now() < signalledAt) {
      const sentAt = performance.now();
      const result = transport === 'http' ? await httpInfer(GRACE_MS + 5_000) : await grpcInfer(client, GRACE_MS + 5_000);
      outcomes.push({ transport, sentAt, doneAt: performance.now(), result });
    }
  };
  const loops = [...Array.from({ length: CLIENTS }, () => loop('http')), ...Array.from({ length: CLIENTS }, () => loop('grpc'))];
  await new Promise((r) => setTimeout(r, 1500));
  const answered = (result: string) => outcomes.filter((o) => o.result === result).length;
  assert.ok(answered('200') >= CLIENTS && answered('grpc:OK') >= CLIENTS, `warm-up: ${JSON.stringify(outcomes.map((o) => o.result))}`);

  signalledAt = performance.now();
  child.kill('SIGTERM');
  // The signal is handled when the child says so (its handler starts the drain in the same tick). Right after, on
  // fresh connections: readiness until the listener refuses, and one new inference request per transport.
  while (!/SIGTERM: shutting down/.test(out)) await new Promise((r) => setTimeout(r, 2));
  const probes: string[] = [];
  let lateHttp: string | undefined;
  let lateGrpc: Promise<string> | undefined;
  for (;;) {
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      probes.push(String(res.status));
    } catch (err) {
      probes.push(`error:${failure(err)}`);
      break;
    }
    if (lateHttp === undefined) {
      lateHttp = await httpInfer(2_000, { connection: 'close' });
      lateGrpc = grpcInfer(client, 2_000);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const refusedAt = performance.now();
  // Once the listeners are closed: refused at once, not left hanging.
  const refusedHttp = await httpInfer(2_000);
  const fresh = newClient();
  const refusedGrpc = await grpcInfer(fresh, 2_000);
  fresh.close();

  await Promise.all(loops);
  const [code, signal] = await exited;
  const exitMs = performance.now() - signalledAt;
  const report = `probes ${probes.join(' ')}; listener closed after ${Math.round(refusedAt - signalledAt)} ms, exit after ${Math.round(exitMs)} ms\n${out}`;

  t.diagnostic(`${outcomes.length} requests, ${outcomes.filter((o) => o.doneAt > signalledAt).length} finished during the drain; ${report.split('\n')[0]}`);
  assert.equal(code, 0, `exit ${code ?? signal}: ${report}`);
  assert.ok(exitMs < GRACE_MS, report);
  // Every request sent before the signal completed, some of them while the server drained.
  const failed = outcomes.filter((o) => o.result !== '200' && o.result !== 'grpc:OK');
  assert.deepEqual(failed, [], report);
  for (const transport of ['http', 'grpc'] as const) {
    const drained = outcomes.filter((o) => o.transport === transport && o.doneAt > signalledAt);
    assert.ok(drained.length >= 1, `${transport}: no request was in flight at SIGTERM; ${report}`);
  }
  // Readiness said no (503) while the listener was open, never yes, then the connection was refused.
  assert.ok(probes.length >= 2, report);
  assert.ok(probes.slice(0, -1).every((p) => p === '503'), report);
  // The last probe is refused, or reset when it connected in the instant the listener closed (a busy machine).
  assert.ok(['error:ECONNREFUSED', 'error:ECONNRESET'].includes(probes.at(-1) ?? ''), report);
  // New work during the drain got an answer: 503 over HTTP; gRPC had stopped taking calls (UNAVAILABLE).
  assert.equal(lateHttp, '503', report);
  assert.equal(await lateGrpc, 'grpc:UNAVAILABLE', report);
  assert.equal(refusedHttp, 'error:ECONNREFUSED', report);
  assert.equal(refusedGrpc, 'grpc:UNAVAILABLE', report);
});
