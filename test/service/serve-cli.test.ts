// `tiffin serve` as a real child process: it loads a TypeScript service with a store model, prints a
// startup line, serves, shuts down gracefully on SIGTERM (exit 0, in-flight request completed), reads
// tiffin.yaml and TIFFIN_* with clear errors, restarts on file changes with --reload, and runs with V8's
// allocation-site pretenuring off and, on two cores or fewer, its parallel scavenge off.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { usableCores } from '../../src/runner/cores.ts';
import { startTiffin, type Running } from '../../src/testing/cli-process.ts';
import { FIXTURES, postJson, storeWithAdder } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI_SERVICE = join(FIXTURES, 'cli-service.ts');

function tiffin(t: TestContext, args: string[], options: { cwd: string; env?: Record<string, string>; nodeArgs?: string[] }): Running {
  return startTiffin(t, args, options);
}

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('serves a TypeScript service with a store model and exits 0 on SIGTERM after the in-flight request', async (t) => {
  const { home } = await storeWithAdder(t);
  const cwd = await tempDir(t);
  const run = tiffin(t, ['serve', CLI_SERVICE, '--port', '0', '--no-grpc'], { cwd, env: { TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn' } });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.match(run.output(), /serving "cli-demo" 0\.0\.0 from .*cli-service\.ts at http/);
  assert.match(run.output(), /POST \/add\s+Adds with the stored adder model/);
  assert.match(run.output(), /docs http:\/\/127\.0\.0\.1:\d+\/docs/);

  const res = await postJson(`${url}/add`, { a: 2, b: 40 });
  assert.equal(res.status, 200, run.output());
  assert.deepEqual(await res.json(), { sum: 42 });

  const slow = postJson(`${url}/slow`, { ms: 400 });
  await new Promise((r) => setTimeout(r, 100));
  run.child.kill('SIGTERM');
  const done = await slow;
  assert.equal(done.status, 200);
  assert.deepEqual(await done.json(), { waited: 400 });
  assert.equal(await run.exit, 0, run.output());
  assert.match(run.output(), /SIGTERM: shutting down/);
  assert.match(run.output(), /tiffin-test: shutdown hook ran/);
});

/** Serves the adder service with V8 trace flags, sends 8 clients' worth of requests (each `perClient`), stops it
 * with SIGTERM and returns everything it printed (V8 writes its traces through C stdio, flushed at exit). */
async function serveUnderLoad(t: TestContext, nodeArgs: string[], perClient: number): Promise<string> {
  const { home } = await storeWithAdder(t);
  const cwd = await tempDir(t);
  const run = tiffin(t, ['serve', CLI_SERVICE, '--port', '0', '--no-grpc'], { cwd, env: { TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn' }, nodeArgs });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  await Promise.all(
    Array.from({ length: 8 }, async (_, i) => {
      for (let n = 0; n < perClient; n++) {
        const res = await postJson(`${url}/add`, { a: i, b: n });
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { sum: i + n });
      }
    }),
  );
  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0, run.output());
  return run.output();
}

test("serves with V8's allocation-site pretenuring off: no pretenuring decision is ever made", async (t) => {
  // bin/tiffin.js says why it is off. The positive control turns it back on (flags given to Node come after
  // bin/tiffin.js's own) and must see decisions, so the trace does print them under this load.
  const trace = ['--trace-pretenuring', '--trace-pretenuring-statistics'];
  const [off, on] = await Promise.all([serveUnderLoad(t, trace, 50), serveUnderLoad(t, ['--allocation-site-pretenuring', ...trace], 50)]);
  assert.match(on, /pretenuring:/, 'with pretenuring on, the same run traces pretenuring decisions');
  assert.doesNotMatch(off, /pretenuring:/);
});

/** Per V8 isolate, how many scavenger tasks each scavenge ran, in order, from `--trace-gc --trace-parallel-scavenge`
 * output: each task prints a line before the scavenge's own summary line. */
function scavengeTasks(output: string): Map<string, number[]> {
  const byIsolate = new Map<string, { tasks: number; counts: number[] }>();
  for (const line of output.split('\n')) {
    const m = /^\[\d+:(0x[0-9a-f]+)\]\s+(?:(scavenge\[)|\d+ ms: Scavenge )/.exec(line);
    if (!m) continue;
    const isolate = byIsolate.get(m[1]!) ?? { tasks: 0, counts: [] };
    byIsolate.set(m[1]!, isolate);
    if (m[2]) isolate.tasks++;
    else {
      isolate.counts.push(isolate.tasks);
      isolate.tasks = 0;
    }
  }
  return new Map([...byIsolate].map(([k, v]) => [k, v.counts]));
}

test("on two cores or fewer, scavenges the young generation without V8's helper threads", { skip: usableCores() > 2 ? 'more than two cores here' : false }, async (t) => {
  // bin/tiffin.js says why. The flag is given at start-up, so every scavenge of the serving isolate is single-task.
  const output = await serveUnderLoad(t, ['--trace-gc', '--trace-parallel-scavenge'], 100);
  const main = [...scavengeTasks(output).values()].sort((a, b) => b.length - a.length)[0] ?? [];
  assert.ok(main.length >= 5, `the event loop's isolate scavenged ${main.length} times`);
  assert.deepEqual(main.slice(-5), [1, 1, 1, 1, 1], `tasks per scavenge: ${main.join(' ')}`);
});

test('reads tiffin.yaml (service and server settings); flags win over env, env over the file', async (t) => {
  const { home } = await storeWithAdder(t);
  const cwd = await tempDir(t);
  await writeFile(join(cwd, 'tiffin.yaml'), `service: ${CLI_SERVICE}\nserver:\n  port: 1\n  maxBodySize: 64\n  docs: false\n`);
  const run = tiffin(t, ['serve', '--port', '0', '--no-grpc'], { cwd, env: { TIFFIN_HOME: home, TIFFIN_PORT: '2', TIFFIN_LOG_LEVEL: 'warn' } });
  const [, url] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.doesNotMatch(run.output(), /docs http/);
  const big = await postJson(`${url}/add`, { a: 1, b: 2, padding: 'x'.repeat(100) });
  assert.equal(big.status, 413, 'maxBodySize came from tiffin.yaml');
  run.child.kill('SIGINT');
  assert.equal(await run.exit, 0, run.output());
});

test('invalid configuration fails with CONFIG_INVALID naming the key and its source', async (t) => {
  const cwd = await tempDir(t);
  await writeFile(join(cwd, 'tiffin.yaml'), 'server:\n  port: seventy\n  hots: x\n');
  let run = tiffin(t, ['serve', CLI_SERVICE], { cwd });
  assert.equal(await run.exit, 2);
  assert.match(run.output(), /error \[CONFIG_INVALID\]: invalid configuration: tiffin\.yaml: server\.port: expected an integer from 0 to 65535 \(got "seventy"\); tiffin\.yaml: unknown key "server\.hots" \(server takes port, host, /);

  const clean = await tempDir(t);
  run = tiffin(t, ['serve', CLI_SERVICE], { cwd: clean, env: { TIFFIN_MAX_BODY_SIZE: 'lots', TIFFIN_DEVELOPMENT: 'sometimes' } });
  assert.equal(await run.exit, 2);
  assert.match(run.output(), /TIFFIN_MAX_BODY_SIZE: server\.maxBodySize: expected a size in bytes, or with a unit such as 512KiB, 32MiB, 1GiB \(got "lots"\)/);
  assert.match(run.output(), /TIFFIN_DEVELOPMENT: server\.development: expected true or false/);

  run = tiffin(t, ['serve', CLI_SERVICE, '--port', '99999'], { cwd: clean });
  assert.equal(await run.exit, 2);
  assert.match(run.output(), /--port: server\.port: expected an integer from 0 to 65535 \(got "99999"\)/);
});

test('a module without a service, and a missing model, fail with readable errors', async (t) => {
  const cwd = await tempDir(t);
  const notAService = join(cwd, 'nothing.ts');
  await writeFile(notAService, 'export const x = 1;\n');
  let run = tiffin(t, ['serve', notAService], { cwd });
  assert.equal(await run.exit, 2);
  assert.match(run.output(), /error \[SERVICE_INVALID\]: .*nothing\.ts exports no service/);

  const emptyHome = await tempDir(t);
  run = tiffin(t, ['serve', CLI_SERVICE, '--port', '0', '--no-grpc'], { cwd, env: { TIFFIN_HOME: emptyHome, TIFFIN_LOG_LEVEL: 'silent' } });
  assert.equal(await run.exit, 1);
  assert.match(run.output(), /error \[MODEL_\w+\]: model "adder" \(adder:latest\)/);
});

test('--reload restarts the server when the service file changes', async (t) => {
  const cwd = await tempDir(t);
  const file = join(cwd, 'svc.ts');
  const source = (greeting: string) =>
    `import { io, service } from ${JSON.stringify(join(ROOT, 'src/service/index.ts'))};\n` +
    `export default service('reloading').api('greet', { input: io.text(), output: io.text(), handler: (s) => '${greeting} ' + s });\n`;
  await writeFile(file, source('hello'));
  const run = tiffin(t, ['serve', file, '--port', '0', '--reload'], { cwd, env: { TIFFIN_LOG_LEVEL: 'warn' } });
  const [, first] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  assert.equal(await (await fetch(`${first}/greet`, { method: 'POST', body: 'you' })).text(), 'hello you');

  const mark = run.mark();
  await writeFile(file, source('bonjour'));
  await run.waitFor(/svc\.ts changed; restarting/, mark);
  const [, second] = await run.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/, mark);
  assert.equal(await (await fetch(`${second}/greet`, { method: 'POST', body: 'toi' })).text(), 'bonjour toi');
  assert.equal(await readFile(file, 'utf8'), source('bonjour'));

  run.child.kill('SIGTERM');
  assert.equal(await run.exit, 0, run.output());
});
