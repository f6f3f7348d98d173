// The soak run: one `tiffin serve` process (the benchmark's service API beside KServe V2 REST and gRPC) under
// mixed traffic for a long while, with faults injected on a schedule, to show that it keeps answering and does
// not grow. Traffic: the service API (POST /predict on the ONNX MLP), V2 REST infer and V2 gRPC ModelInfer on
// the MLP and on `soak`, a small custom model served by runner replicas like any other. Faults:
// - every ~20 s a runner replica of `soak` is killed: a V2 request whose first value is KILL_VALUE makes the model
//   throw from a timer, an uncaught error that ends its worker thread as a crash does (Tiffin has no kill hook,
//   on purpose); the kill counts once /metrics shows the replacement (tiffin_runner_restarts_total);
// - every ~30 s a model is reloaded: a new version saved to the store, then POST /v2/repository/models/{m}/load
//   with the management token (hot reload polling is off, so these are the only reloads); MLP and soak alternate.
// Every request has a deadline (SOAK_TIMEOUT_MS, 30 s): one that passes it has hung. The server's resident memory
// (VmRSS of the real server: bin/tiffin.js re-executes itself, so the child of the spawned process) is read after
// the warm-up and at the end, each time with faults paused and the pools back up for a few seconds, so that a
// replica or version half loaded does not count as growth; the warm-up kills and reloads first, so that one-time
// costs (the first reload's allocator arenas: +20% when measured before any reload) are in the baseline.
//
// Run: npm run bench -- soak   (or: npx tsx bench/soak.ts [--seconds 600], after `node scripts/build.mjs`)
// Env: SOAK_SECONDS measured seconds after the warm-up (600), SOAK_WARMUP seconds (30), SOAK_CONCURRENCY clients
//      per traffic kind (2; three kinds), SOAK_KILL_EVERY seconds (20), SOAK_RELOAD_EVERY seconds (30),
//      SOAK_TIMEOUT_MS (30000), SOAK_PROGRESS seconds between progress lines (60). Exits 1 when a request hung or the server's RSS grew by 10% or more.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { Models } from '../src/models/index.ts';
import { mlp } from '../src/onnx/index.ts';
import { loadInferenceProto } from '../src/protocols/kserve-v2/grpc-proto.ts';
import { ModelStore } from '../src/store/index.ts';
import { LAYERS, MODEL_NAME, SEED, WIDTH, requestBody, requestRow } from './lib/model.ts';
import { freePort, startServer } from './lib/server-process.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const flag = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SECONDS = Number(flag('seconds') ?? process.env.SOAK_SECONDS ?? 600);
const WARMUP_S = Number(process.env.SOAK_WARMUP ?? 30);
const CONCURRENCY = Math.max(1, Number(process.env.SOAK_CONCURRENCY ?? 2));
const KILL_EVERY_S = Number(process.env.SOAK_KILL_EVERY ?? 20);
const RELOAD_EVERY_S = Number(process.env.SOAK_RELOAD_EVERY ?? 30);
const TIMEOUT_MS = Number(process.env.SOAK_TIMEOUT_MS ?? 30_000);
const MAX_GROWTH = 0.1;

/** The custom model: one dense layer in JavaScript, batchable. A row starting with KILL_VALUE ends its thread. */
const SOAK_WIDTH = 64;
const KILL_VALUE = -12345;
const SOAK_MODEL = `
const IN = ${SOAK_WIDTH};
const OUT = 8;
const W = Float32Array.from({ length: IN * OUT }, (_, i) => Math.sin(i) / IN);

export default class Soak {
  static signatures = { run: { batchable: true } };

  run(feeds: { input: { shape: number[]; data: Float32Array } }) {
    const { shape, data } = feeds.input;
    const rows = shape[0];
    const out = new Float32Array(rows * OUT);
    for (let r = 0; r < rows; r++) {
      // The soak's fault injection: an uncaught error after the call returns kills this replica's thread.
      if (data[r * IN] === ${KILL_VALUE}) setTimeout(() => { throw new Error('soak: replica killed on purpose'); }, 0);
      for (let o = 0; o < OUT; o++) {
        let sum = 0;
        for (let i = 0; i < IN; i++) sum += data[r * IN + i] * W[i * OUT + o];
        out[r * OUT + o] = sum;
      }
    }
    return { output: { dtype: 'float32', shape: [rows, OUT], data: out } };
  }
}
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- results -------------------------------------------------------------------------------------------------

let sent = 0;
let hung = 0;
/** Answers by `<kind> <status>[ <code>]`, e.g. `v2 500`, `api 503 SHUTTING_DOWN`, `grpc INTERNAL`. */
const answers = new Map<string, number>();
/** No answer at all: a connection that failed, a request that could not be sent. */
const errors = new Map<string, number>();
const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

// ---- the server ----------------------------------------------------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'tiffin-soak-'));
const home = join(dir, 'home');
const models = new Models(new ModelStore(join(home, 'models')));
const versions: Record<string, number> = { [MODEL_NAME]: 1, soak: 1 };

async function saveVersion(name: string, version: number): Promise<void> {
  if (name === MODEL_NAME) {
    const file = join(dir, `mlp-${version}.onnx`);
    // A new seed per version: new weights, as a retrained model would have.
    await writeFile(file, mlp({ layers: LAYERS, seed: SEED + version - 1 }));
    await models.save(`${name}:${version}`, file, { framework: 'onnx', batchable: true });
    await rm(file);
  } else {
    const src = join(dir, `soak-${version}`);
    await mkdir(src);
    await writeFile(join(src, 'model.ts'), `// version ${version}\n${SOAK_MODEL}`);
    await models.save(`${name}:${version}`, src, { framework: 'custom' });
  }
}

await saveVersion(MODEL_NAME, 1);
await saveVersion('soak', 1);
const token = randomBytes(16).toString('hex');
const grpcPort = await freePort();
const server = await startServer({
  name: 'tiffin serve (soak)',
  args: [here('../bin/tiffin.js'), 'serve', here('./servers/tiffin-service.ts'), '--port', '{port}', '--models', `${MODEL_NAME},soak`, '--grpc-port', String(grpcPort)],
  // Warnings only: an access-log line per request would write gigabytes over a long run.
  env: { TIFFIN_HOME: home, TIFFIN_MANAGEMENT_TOKEN: token, TIFFIN_POLL_INTERVAL: '0', TIFFIN_LOG_LEVEL: 'warn' },
  cwd: dir,
  logFile: join(dir, 'server.log'),
});

/** The real server's pid: the child of the spawned `bin/tiffin.js` (found through /proc, Linux only). */
async function serverPid(parent: number): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) return Number(entry);
  }
  return parent; // not re-executed
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

const pid = await serverPid(server.pid);

// ---- traffic ---------------------------------------------------------------------------------------------------

const apiBody = requestBody();
const mlpRow = requestRow();
const v2Body = (row: number[]) => JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, row.length], data: row }] });
const soakRow = Array.from({ length: SOAK_WIDTH }, (_, i) => Math.cos(i));
const v2Bodies = { [MODEL_NAME]: v2Body(mlpRow), soak: v2Body(soakRow) };

/** POSTs and sorts the outcome: answered (by status, and the error's code when it has one), hung, or failed. */
async function post(kind: string, path: string, body: string, headers: Record<string, string> = {}): Promise<number | undefined> {
  sent++;
  try {
    const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers }, signal: AbortSignal.timeout(TIMEOUT_MS) });
    const text = await res.text();
    let code = '';
    if (res.status !== 200) {
      try {
        code = String((JSON.parse(text) as { code?: unknown }).code ?? '');
      } catch {
        code = 'not-json';
      }
    }
    count(answers, `${kind} ${res.status}${code ? ` ${code}` : ''}`);
    return res.status;
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') hung++;
    else count(errors, `${kind} ${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}`);
    return undefined;
  }
}

const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
const grpcClient = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
type Unary = (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null) => void) => void;
const modelInfer = (grpcClient as unknown as { ModelInfer: Unary }).ModelInfer.bind(grpcClient);
const grpcRequests: Record<string, unknown> = {
  [MODEL_NAME]: { model_name: MODEL_NAME, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, WIDTH], contents: { fp32_contents: mlpRow } }] },
  soak: { model_name: 'soak', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, SOAK_WIDTH], contents: { fp32_contents: soakRow } }] },
};

function grpcInfer(model: string): Promise<void> {
  sent++;
  return new Promise((resolve) => {
    modelInfer(grpcRequests[model], new grpc.Metadata(), { deadline: Date.now() + TIMEOUT_MS }, (err) => {
      if (!err) count(answers, 'grpc OK');
      else if (err.code === grpc.status.DEADLINE_EXCEEDED) hung++;
      else count(answers, `grpc ${grpc.status[err.code]}`);
      resolve();
    });
  });
}

let running = true;
const traffic = [
  ...Array.from({ length: CONCURRENCY }, async () => {
    while (running) await post('api', '/predict', apiBody);
  }),
  ...Array.from({ length: CONCURRENCY }, async (_, c) => {
    for (let i = c; running; i++) {
      const model = i % 2 === 0 ? MODEL_NAME : 'soak';
      await post('v2', `/v2/models/${model}/infer`, v2Bodies[model]!);
    }
  }),
  ...Array.from({ length: CONCURRENCY }, async (_, c) => {
    for (let i = c; running; i++) await grpcInfer(i % 2 === 0 ? MODEL_NAME : 'soak');
  }),
];

// ---- faults ----------------------------------------------------------------------------------------------------

let kills = 0;
let killsUnconfirmed = 0;
let reloads = 0;
let reloadsFailed = 0;

/** Replacements of soak's replicas so far, over its versions loaded now (each version's series starts at 0). */
async function soakRestarts(): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^tiffin_runner_restarts_total\{model="soak",[^}]*\} (\d+)$/gm)) sum += Number(m[1]);
  return sum;
}

async function killReplica(): Promise<void> {
  const before = await soakRestarts();
  await post('kill', '/v2/models/soak/infer', v2Body([KILL_VALUE, ...soakRow.slice(1)]));
  kills++;
  for (let waited = 0; waited < 5_000; waited += 100) {
    if ((await soakRestarts()) > before) return;
    await sleep(100);
  }
  killsUnconfirmed++;
}

let nextReload = 0;
async function reload(): Promise<void> {
  const name = [MODEL_NAME, 'soak'][nextReload++ % 2]!;
  const version = ++versions[name]!;
  await saveVersion(name, version);
  const status = await post('reload', `/v2/repository/models/${name}/load`, '{}', { authorization: `Bearer ${token}` });
  if (status === 200) reloads++;
  else reloadsFailed++;
}

/** Kills and reloads one at a time (so a kill's confirmation never straddles a reload of soak), each when due. */
let faulting = false;
async function faults(until: () => boolean): Promise<void> {
  const t0 = performance.now();
  let nextKill = KILL_EVERY_S * 1000;
  let nextLoad = RELOAD_EVERY_S * 1000;
  while (!until()) {
    const now = performance.now() - t0;
    if (now >= nextKill) {
      await killReplica();
      nextKill += KILL_EVERY_S * 1000;
    } else if (now >= nextLoad) {
      await reload();
      nextLoad += RELOAD_EVERY_S * 1000;
    } else {
      await sleep(250);
    }
  }
}

/** Faults paused: waits until readiness is back and a few seconds of plain traffic, then the RSS: the median of
 * five readings a second apart (it moves by tens of MiB with the collector and the allocators). */
async function settledRss(): Promise<number> {
  while ((await fetch(`${server.url}/readyz`).then((r) => r.status, () => 0)) !== 200) await sleep(200);
  await sleep(3_000);
  const readings: number[] = [];
  for (let i = 0; i < 5; i++) {
    readings.push(await rssMiB(pid));
    await sleep(1_000);
  }
  return readings.sort((a, b) => a - b)[2]!;
}

// ---- the run ---------------------------------------------------------------------------------------------------

const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
console.log(`soak: ${server.url} (gRPC 127.0.0.1:${grpcPort}), server pid ${pid}, ${availableParallelism()} cores; ${CONCURRENCY} clients each of service API, V2 REST, gRPC; ` +
  `a replica kill every ${KILL_EVERY_S} s, a reload every ${RELOAD_EVERY_S} s; ${WARMUP_S} s warm-up, then ${SECONDS} s`);
const progress = setInterval(() => {
  void rssMiB(pid).then((rss) => console.log(`  ${elapsed().toFixed(0)} s: ${sent} sent, ${hung} hung, ${kills} kills, ${reloads} reloads, server RSS ${rss.toFixed(1)} MiB`), () => {});
}, Number(process.env.SOAK_PROGRESS ?? 60) * 1000);

// Warm-up: traffic and one fault of each kind first (each model reloaded once), so that what a kill or a reload
// allocates once (code, caches, the allocators' arenas) exists before the baseline; then the schedule.
await killReplica();
await reload();
await reload();
await faults(() => elapsed() >= WARMUP_S);
const rssStart = await settledRss();
const measuredFrom = elapsed();
console.log(`  baseline after ${measuredFrom.toFixed(0)} s: server RSS ${rssStart.toFixed(1)} MiB`);
await faults(() => elapsed() - measuredFrom >= SECONDS);
const rssEnd = await settledRss();
running = false;
await Promise.all(traffic);
clearInterval(progress);
const wrapperRss = await rssMiB(server.pid).catch(() => NaN);
grpcClient.close();
await server.stop();
const log = await readFile(join(dir, 'server.log'), 'utf8').catch(() => '');
await rm(dir, { recursive: true, force: true });

const growth = (rssEnd - rssStart) / rssStart;
const sorted = (map: Map<string, number>) => [...map].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `    ${k}: ${v}`).join('\n') || '    none';
console.log(`\nsoak: ${elapsed().toFixed(0)} s in all (${SECONDS} s measured)`);
console.log(`  requests sent: ${sent}`);
console.log(`  answered, by kind and status:\n${sorted(answers)}`);
console.log(`  hung (no answer within ${TIMEOUT_MS} ms): ${hung}`);
console.log(`  errors (no answer at all):\n${sorted(errors)}`);
console.log(`  replica kills: ${kills}${killsUnconfirmed ? ` (${killsUnconfirmed} not seen in tiffin_runner_restarts_total within 5 s)` : ', each replacement seen in /metrics'}`);
console.log(`  reloads: ${reloads}${reloadsFailed ? `, ${reloadsFailed} failed` : ''}`);
console.log(`  server RSS: ${rssStart.toFixed(1)} MiB after the warm-up, ${rssEnd.toFixed(1)} MiB at the end: ${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}% (limit +${MAX_GROWTH * 100}%); bin/tiffin.js wrapper ${wrapperRss.toFixed(1)} MiB`);
const warnings = log.split('\n').filter((l) => l.trim() !== '');
if (warnings.length > 0) console.log(`  server log: ${warnings.length} lines (warnings and errors); the last:\n    ${warnings.slice(-3).join('\n    ')}`);
const ok = hung === 0 && growth < MAX_GROWTH;
console.log(ok ? 'soak: passed' : `soak: FAILED (${[hung > 0 && `${hung} hung`, growth >= MAX_GROWTH && 'RSS grew too much'].filter(Boolean).join(', ')})`);
process.exit(ok ? 0 : 1);
