// `tiffin serve --role api` with two `--role runner` processes on loopback, all real processes: the API's model
// calls go to the runners over gRPC ModelInfer and answer what the model computes; SIGKILL of one runner in the
// middle of a load loses no request (each failed call is sent again to the other runner); with both gone, requests
// get 503 RUNNER_UNAVAILABLE naming the runner and its endpoints, and /readyz says which runner is not ready.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Models } from '../../src/models/index.ts';
import { mlp, mlpForward, mlpParams } from '../../src/onnx/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { startTiffin, type Running } from '../../src/testing/cli-process.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVICE = join(ROOT, 'test/remote-runners/fixtures/mlp-service.ts');
// The CLI from source, with bin/tiffin.js's V8 flags given up front so no re-executed child sits between the test
// and the server: SIGKILL reaches the server itself, as when a node or container dies.
const FROM_SOURCE = { bin: join(ROOT, 'src/cli/main.ts'), nodeArgs: ['--import', import.meta.resolve('tsx'), '--no-allocation-site-pretenuring', '--no-parallel-scavenge'] };
const PARAMS = mlpParams({ layers: [8, 64, 64, 4], seed: 7 });

async function home(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-remote-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'mlp.onnx');
  await writeFile(file, mlp(PARAMS));
  await new Models(new ModelStore(join(dir, 'models'))).save('mlp:1', file, { framework: 'onnx', batchable: true });
  return dir;
}

async function runner(t: TestContext, dir: string): Promise<{ run: Running; address: string }> {
  const run = startTiffin(t, ['serve', SERVICE, '--role', 'runner', '--model', 'net', '--port', '0', '--grpc-port', '0'], {
    cwd: dir, env: { TIFFIN_HOME: dir, TIFFIN_LOG_LEVEL: 'warn' }, ...FROM_SOURCE,
  });
  const [, address] = await run.waitFor(/gRPC\s+(127\.0\.0\.1:\d+)/);
  await run.waitFor(/ready at http/);
  return { run, address: address! };
}

function rowsFor(i: number): number[][] {
  return [Array.from({ length: 8 }, (_, j) => Math.sin(i * 8 + j))];
}

async function score(url: string, i: number): Promise<{ status: number; body: { output?: number[][]; code?: string; message?: string } }> {
  const res = await fetch(`${url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: rowsFor(i) }) });
  return { status: res.status, body: (await res.json()) as { output?: number[][] } };
}

function assertScored(i: number, output: number[][] | undefined): void {
  const expected = mlpForward(PARAMS, rowsFor(i).flat(), 1);
  assert.ok(output, `request ${i} has an output`);
  output[0]!.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-4, `request ${i} output ${j}: ${v} vs ${expected[j]}`));
}

test('an API server with two remote runners: correct answers, a runner SIGKILLed mid-load loses no request, then a clear error', async (t) => {
  const dir = await home(t);
  const [a, b] = await Promise.all([runner(t, dir), runner(t, dir)]);
  const api = startTiffin(t, ['serve', SERVICE, '--role', 'api', '--port', '0', '--no-grpc'], {
    cwd: dir, env: { TIFFIN_HOME: dir, TIFFIN_LOG_LEVEL: 'info', TIFFIN_ACCESS_LOG: 'false', TIFFIN_RUNNERS: `mlp=${a.address}|${b.address}` }, ...FROM_SOURCE,
  });
  const [, url] = await api.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  // Ready once a readiness poll has found a runner ready.
  for (let i = 0; i < 50 && (await fetch(`${url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal((await fetch(`${url}/readyz`)).status, 200, api.output());

  const first = await score(url!, 0);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assertScored(0, first.body.output);

  // 16 clients, 400 requests; runner a is killed after the 80th answer, with requests in flight on it.
  const total = 400;
  let next = 0;
  let answered = 0;
  const failures: string[] = [];
  let killedAt = -1;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < total) {
      const i = next++;
      const res = await score(url!, i);
      if (res.status !== 200) failures.push(`${i}: ${res.status} ${JSON.stringify(res.body)}`);
      else assertScored(i, res.body.output);
      answered += 1;
      if (answered === 80) {
        killedAt = answered;
        a.run.child.kill('SIGKILL');
      }
    }
  }));
  assert.equal(killedAt, 80);
  assert.equal(a.run.child.signalCode ?? (await a.run.exit, a.run.child.signalCode), 'SIGKILL');
  assert.deepEqual(failures, [], `no request lost when one runner died:\n${api.output()}`);
  await api.waitFor(new RegExp(`remote runner of model mlp at ${a.address.replace(/\./g, '\\.')}: down`));

  // Both runners gone: a clear 503 naming the runner and each endpoint, and /readyz says which runner.
  b.run.child.kill('SIGKILL');
  await b.run.exit;
  const gone = await score(url!, 1);
  assert.equal(gone.status, 503, JSON.stringify(gone.body));
  assert.equal(gone.body.code, 'RUNNER_UNAVAILABLE');
  assert.match(gone.body.message!, /remote runner of model mlp/);
  assert.ok(gone.body.message!.includes(a.address) && gone.body.message!.includes(b.address), gone.body.message);
  let ready: Response | undefined;
  for (let i = 0; i < 40; i++) {
    ready = await fetch(`${url}/readyz`);
    if (ready.status === 503) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(ready!.status, 503);
  assert.match(((await ready!.json()) as { message: string }).message, /remote runner of model mlp has no ready endpoint/);

  api.child.kill('SIGTERM');
  assert.equal(await api.exit, 0, api.output());
});

test('--role api without a runner for a model it serves refuses to start, naming the model and the setting', async (t) => {
  const dir = await home(t);
  const api = startTiffin(t, ['serve', SERVICE, '--role', 'api', '--port', '0', '--no-grpc'], { cwd: dir, env: { TIFFIN_HOME: dir, TIFFIN_LOG_LEVEL: 'warn' }, ...FROM_SOURCE });
  assert.notEqual(await api.exit, 0);
  assert.match(api.output(), /CONFIG_INVALID.*remote runner for every model.*mlp.*TIFFIN_RUNNERS=mlp=host:port/s);
  const runner = startTiffin(t, ['serve', SERVICE, '--role', 'runner', '--port', '0'], { cwd: dir, env: { TIFFIN_HOME: dir }, ...FROM_SOURCE });
  assert.equal(await runner.exit, 2);
  assert.match(runner.output(), /--role runner serves one model: name it with --model/);
});
