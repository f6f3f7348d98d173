// Throughput of one service with its model in in-process runners (`tiffin serve`: a runner pool in the server's
// process) against the same service as `tiffin serve --role api` calling two `--role runner` processes over gRPC
// ModelInfer, side by side in one run. The service (test/remote-runners/fixtures/mlp-service.ts) takes one 8-float
// row per request into an MLP [8, 64, 64, 4]; load is HTTP JSON from autocannon in this process, in interleaved
// rounds so background noise hits both setups alike (each row reports the median round). Every server runs the CLI
// from source (tsx), so the run needs no build of dist/; both setups pay the same for that.
//
// Run: node --import tsx bench/remote-runners.ts   (or npm run bench -- remote-runners)
// Env: BENCH_DURATION seconds per setup in all (default 15), BENCH_ROUNDS (default 3), BENCH_CONCURRENCY (default 32).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Models } from '../src/models/index.ts';
import { mlp, mlpParams } from '../src/onnx/index.ts';
import { ModelStore } from '../src/store/index.ts';
import { load, type LoadResult } from './lib/load.ts';
import { cpuSeconds, freePort, startServer, TIFFIN_V8_FLAGS, type RunningServer } from './lib/server-process.ts';
import { fixed, markdownTable } from './lib/table.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SERVICE = join(ROOT, 'test/remote-runners/fixtures/mlp-service.ts');
const CLI = [
  '--import', import.meta.resolve('tsx'),
  // bin/tiffin.js's V8 flags, given directly (it would re-execute Node to add them).
  ...TIFFIN_V8_FLAGS,
  join(ROOT, 'src/cli/main.ts'),
];
const DURATION_S = Number(process.env.BENCH_DURATION ?? 15);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const ROUND_S = Math.max(2, Math.round(DURATION_S / ROUNDS));
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);

const home = await mkdtemp(join(tmpdir(), 'bench-remote-'));
const file = join(home, 'mlp.onnx');
await writeFile(file, mlp(mlpParams({ layers: [8, 64, 64, 4], seed: 7 })));
await new Models(new ModelStore(join(home, 'models'))).save('mlp:1', file, { framework: 'onnx', batchable: true });
const env = { TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn', TIFFIN_ACCESS_LOG: 'false' };
const log = (name: string) => join(home, `${name}.log`);

const servers: RunningServer[] = [];
try {
  const inProcess = await startServer({ name: 'in-process', args: [...CLI, 'serve', SERVICE, '--port', '{port}', '--no-grpc'], env, logFile: log('in-process') });
  servers.push(inProcess);
  const runnerPorts = [await freePort(), await freePort()];
  for (const [i, grpcPort] of runnerPorts.entries()) {
    servers.push(await startServer({
      name: `runner-${i}`,
      args: [...CLI, 'serve', SERVICE, '--role', 'runner', '--model', 'net', '--port', '{port}', '--grpc-port', String(grpcPort)],
      env, logFile: log(`runner-${i}`),
    }));
  }
  const api = await startServer({
    name: 'api',
    args: [...CLI, 'serve', SERVICE, '--role', 'api', '--port', '{port}', '--no-grpc'],
    env: { ...env, TIFFIN_RUNNERS: `mlp=${runnerPorts.map((p) => `127.0.0.1:${p}`).join('|')}` },
    logFile: log('api'),
  });
  servers.push(api);

  const body = JSON.stringify({ rows: [Array.from({ length: 8 }, (_, j) => Math.sin(j))] });
  const setups = [
    { name: 'in-process runners (1 process)', url: inProcess.url, pids: [inProcess.pid] },
    { name: '--role api + 2 --role runner processes', url: api.url, pids: [api.pid, servers[1]!.pid, servers[2]!.pid] },
  ];
  for (const s of setups) await load(`${s.url}/score`, body, CONCURRENCY, 2); // warm-up: JIT, batcher cost model, connections
  type Round = LoadResult & { cpuUs: number; perProcessUs: number[] };
  const rounds = setups.map(() => [] as Round[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, s] of setups.entries()) {
      const cpu0 = s.pids.map((pid) => cpuSeconds(pid) ?? 0);
      const result = await load(`${s.url}/score`, body, CONCURRENCY, ROUND_S);
      const answered = Math.max(1, result.rps * result.seconds);
      const perProcessUs = s.pids.map((pid, k) => (((cpuSeconds(pid) ?? 0) - cpu0[k]!) * 1e6) / answered);
      rounds[i]!.push({ ...result, cpuUs: perProcessUs.reduce((a, b) => a + b, 0), perProcessUs });
    }
  }
  const median = (list: Round[]) => [...list].sort((a, b) => a.rps - b.rps)[Math.floor(list.length / 2)]!;
  const rows = setups.map((s, i) => {
    const m = median(rounds[i]!);
    const failed = rounds[i]!.reduce((n, x) => n + x.errors + x.non2xx, 0);
    return [s.name, fixed(m.rps, 0), fixed(m.p50Ms, 2), fixed(m.p99Ms, 2), `${fixed(m.cpuUs, 0)} (${m.perProcessUs.map((u) => fixed(u, 0)).join(' + ')})`, fixed(m.clientCpuUsPerRequest, 0), String(failed)];
  });
  const ratio = median(rounds[1]!).rps / median(rounds[0]!).rps;
  console.log(`\n${cpus().length} CPUs (${availableParallelism()} usable), ${CONCURRENCY} connections, ${ROUNDS} rounds of ${ROUND_S} s per setup, median round:\n`);
  console.log(markdownTable(['setup', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req (per process)', 'load generator CPU µs/req', 'failed'], rows));
  console.log(`\nper process: the server alone; the API server + runner 1 + runner 2. Load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`\nremote / in-process throughput: ${ratio.toFixed(2)}x`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await rm(home, { recursive: true, force: true });
}
