// The runners/batching benchmark: HTTP servers, same model, same load, same machine, each in its own
// process, with autocannon in this one; the load visits them in interleaved rounds:
//   (a) naive: fastify calling session.run per request on the event loop, with its best thread setting;
//   (b) micro-batcher: a minimal hand-written one (2 ms or 32 rows, one worker thread), the stack's ceiling;
//   (c) tiffin: `tiffin serve` on a service file, with its defaults;
//   (d) runner only, a diagnostic: Tiffin's runner behind a bare fastify route, to split the gap between
//       (b) and (c) into the runner's share and the share of the server and service layers above it.
// The model is an MLP 256 -> 1024 -> 1024 -> 10; a request is one row of 256 floats as JSON. (a), (c)
// and (d) are measured again at one connection, where batching must cost nothing, and the model's own limit
// (in-process session.run by batch size) shows how close the whole HTTP path comes to it.
// Each server runs in several processes (3 by default) and a case's numbers are over all of them: on the 2-core
// VM, identical servers in separate processes kept speeds 5-30% apart for as long as they ran, so a single
// process per server would compare processes as much as servers.
//
// Run: npm run bench -- batching   (or: npx tsx bench/batching.ts)
// Env: BENCH_DURATION seconds of load per case, over all rounds and processes (36), BENCH_ROUNDS (4),
//      BENCH_PROCESSES per server (3), BENCH_CONNECTIONS (64), BENCH_PROBE seconds per
//      thread-setting probe (3), BENCH_WARMUP seconds of unmeasured load per case before the rounds (2),
//      BENCH_STRICT=1 to exit 1 when a target is missed. Results: the tables below, and bench/out/batching-*.json.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Models } from '../src/models/index.ts';
import { ModelStore } from '../src/store/index.ts';
import { microSpec, naiveSpec, runnerOnlySpec, tiffinSpec, withServer, withServerStarted, type Setup } from './lib/cases.ts';
import { load, type LoadResult } from './lib/load.ts';
import { MODEL_NAME, requestBody, writeBenchModel } from './lib/model.ts';
import { expectedOutput, rawThroughput, type RawPoint } from './lib/raw-throughput.ts';
import { cpuSeconds, type RunningServer, type ServerSpec } from './lib/server-process.ts';
import { fixed, markdownTable } from './lib/table.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 36);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const PROBE_S = Number(process.env.BENCH_PROBE ?? 3);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 2);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const PROCESSES = Math.max(1, Number(process.env.BENCH_PROCESSES ?? 3));
const RAW_BATCHES = [1, 8, 32, 64, 128];
const RAW_MS = 400;

const CORES = availableParallelism();
const THREAD_CHOICES = [...new Set([1, Math.min(2, CORES), CORES])];

type CaseName = 'naive' | 'micro-batcher' | 'tiffin' | 'runner only';

interface Measured {
  case: CaseName;
  /** Intra-op threads of the case's session (Tiffin: its default of one per replica). */
  threads: number | undefined;
  load: LoadResult;
  /** Cores the server process kept busy (CPU seconds over wall seconds), every thread included. */
  serverCores: number | undefined;
  /** Server CPU per answered request, in microseconds: every thread, and the main thread alone. */
  cpuUsPerRequest: number | undefined;
  mainThreadUsPerRequest: number | undefined;
  /** Throughput of each of the case's processes, over all rounds. */
  reqPerSecondByProcess?: number[];
}

type CaseInfo = Pick<Measured, 'case' | 'threads'>;

/**
 * Loads the server and reads its CPU use before and after. CPU per request is steadier
 * than req/s on a shared machine: it shows what each server costs even when neighbours take cores.
 */
async function measure(setup: Setup, server: RunningServer, what: CaseInfo, connections: number, seconds: number): Promise<Measured> {
  const before = [cpuSeconds(server.pid), cpuSeconds(server.pid, 'main-thread')];
  const result = await load(`${server.url}/predict`, setup.body, connections, seconds);
  const after = [cpuSeconds(server.pid), cpuSeconds(server.pid, 'main-thread')];
  const answered = result.rps * result.seconds;
  const used = (i: number) => (before[i] === undefined || after[i] === undefined ? undefined : after[i]! - before[i]!);
  const perRequest = (cpu: number | undefined) => (cpu === undefined || answered === 0 ? undefined : (cpu * 1e6) / answered);
  const cpu = used(0);
  return {
    ...what,
    load: result,
    serverCores: cpu === undefined ? undefined : cpu / result.seconds,
    cpuUsPerRequest: perRequest(cpu),
    mainThreadUsPerRequest: perRequest(used(1)),
  };
}

interface Probe {
  case: CaseName;
  threads: number;
  connections: number;
  rps: number;
}

/** Short runs of each thread setting at each connection count; the best setting per count is measured. */
async function probeThreads(setup: Setup, name: CaseName, spec: (threads: number) => ServerSpec, connectionCounts: number[]): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (const threads of THREAD_CHOICES) {
    await withServer(setup, spec(threads), async (server) => {
      for (const connections of connectionCounts) {
        await load(`${server.url}/predict`, setup.body, connections, 1);
        const { rps } = await load(`${server.url}/predict`, setup.body, connections, PROBE_S);
        probes.push({ case: name, threads, connections, rps });
        console.log(`  probe ${name}, ${threads} thread(s), ${connections} connection(s): ${rps.toFixed(0)} req/s`);
      }
    });
  }
  return probes;
}

function bestThreads(probes: Probe[], connections: number): number {
  const at = probes.filter((p) => p.connections === connections);
  return at.reduce((a, b) => (b.rps > a.rps ? b : a)).threads;
}

async function prepare(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-bench-batching-'));
  const modelPath = await writeBenchModel(dir);
  const tiffinHome = join(dir, 'home');
  await new Models(new ModelStore(join(tiffinHome, 'models'))).save(`${MODEL_NAME}:1`, modelPath, { framework: 'onnx', batchable: true });
  return { dir, modelPath, tiffinHome, body: requestBody(), expected: await expectedOutput(modelPath) };
}

interface Target {
  what: string;
  value: number;
  target: string;
  pass: boolean;
}

/** The measured runs; the names ending in 1 are at one connection. */
type Results = Record<'naive' | 'naive1' | 'micro' | 'tiffin' | 'tiffin1' | 'runner' | 'runner1', Measured>;

function target(what: string, value: number, op: '>=' | '<=', bound: number): Target {
  return { what, value, target: `${op} ${bound}`, pass: op === '>=' ? value >= bound : value <= bound };
}

/** The targets. */
function targetsOf(r: Results): Target[] {
  const ratio = (a: Measured, b: Measured) => a.load.rps / b.load.rps;
  return [
    target(`Tiffin / naive throughput, ${CONNECTIONS} connections`, ratio(r.tiffin, r.naive), '>=', 5),
    target(`Tiffin / micro-batcher throughput, ${CONNECTIONS} connections`, ratio(r.tiffin, r.micro), '>=', 0.9),
    target(`Tiffin p99 latency (ms), ${CONNECTIONS} connections`, r.tiffin.load.p99Ms, '<=', 10),
    target('Tiffin / naive throughput, 1 connection', ratio(r.tiffin1, r.naive1), '>=', 0.8),
  ];
}

/** Sums the rounds of one case: throughput and CPU over all of them, latency percentiles as their medians. */
function combine(rounds: Measured[]): Measured {
  const first = rounds[0]!;
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const sum = (f: (m: Measured) => number) => rounds.reduce((n, m) => n + f(m), 0);
  const answered = sum((m) => m.load.rps * m.load.seconds);
  const seconds = sum((m) => m.load.seconds);
  const cpuOf = (f: (m: Measured) => number | undefined) =>
    rounds.some((m) => f(m) === undefined) ? undefined : sum((m) => (f(m)! * m.load.rps * m.load.seconds) / 1e6);
  const cpu = cpuOf((m) => m.cpuUsPerRequest);
  const main = cpuOf((m) => m.mainThreadUsPerRequest);
  return {
    case: first.case,
    threads: first.threads,
    load: {
      ...first.load,
      seconds,
      rps: answered / seconds,
      p50Ms: median(rounds.map((m) => m.load.p50Ms)),
      p90Ms: median(rounds.map((m) => m.load.p90Ms)),
      p99Ms: median(rounds.map((m) => m.load.p99Ms)),
      meanMs: median(rounds.map((m) => m.load.meanMs)),
      errors: sum((m) => m.load.errors),
      non2xx: sum((m) => m.load.non2xx),
      clientCpuUsPerRequest: sum((m) => m.load.clientCpuUsPerRequest * m.load.rps * m.load.seconds) / answered,
    },
    serverCores: cpu === undefined ? undefined : cpu / seconds,
    cpuUsPerRequest: cpu === undefined ? undefined : (cpu * 1e6) / answered,
    mainThreadUsPerRequest: main === undefined ? undefined : (main * 1e6) / answered,
  };
}

/**
 * The thread probes, then the measured runs. Every server runs at once (idle ones cost nothing) and the load
 * visits them in rounds, each round in a different order: on a shared machine whose speed drifts by tens of
 * percent within minutes, cases measured one after another would compare moments, not servers.
 */
async function measureServers(setup: Setup): Promise<{ results: Results; probes: Probe[] }> {
  console.log('\nThread settings');
  const naiveProbes = await probeThreads(setup, 'naive', (n) => naiveSpec(setup, n), [CONNECTIONS, 1]);
  const microProbes = await probeThreads(setup, 'micro-batcher', (n) => microSpec(setup, n), [CONNECTIONS]);
  const naiveThreads = bestThreads(naiveProbes, CONNECTIONS);
  const naive1Threads = bestThreads(naiveProbes, 1);
  const microThreads = bestThreads(microProbes, CONNECTIONS);

  const visitS = DURATION_S / ROUNDS / PROCESSES;
  console.log(`\nMeasuring: ${PROCESSES} processes per server, ${ROUNDS} rounds, ${fixed(visitS, 1)} s per process and round`);
  const servers: RunningServer[] = [];
  /** PROCESSES processes of one server, each with a log file of its own. */
  const start = async (spec: ServerSpec) => {
    const group: RunningServer[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      const server = await withServerStarted(setup, { ...spec, name: `${spec.name} #${i + 1}`, logFile: spec.logFile.replace(/\.log$/, `-${i + 1}.log`) });
      servers.push(server);
      group.push(server);
    }
    return group;
  };
  try {
    const naive = await start(naiveSpec(setup, naiveThreads));
    const naive1 = naive1Threads === naiveThreads ? naive : await start(naiveSpec(setup, naive1Threads));
    const micro = await start(microSpec(setup, microThreads));
    const tiffin = await start(tiffinSpec(setup));
    const runner = await start(runnerOnlySpec(setup));
    type Key = keyof Results;
    const cases: [Key, RunningServer[], CaseInfo, number][] = [
      ['naive', naive, { case: 'naive', threads: naiveThreads }, CONNECTIONS],
      ['micro', micro, { case: 'micro-batcher', threads: microThreads }, CONNECTIONS],
      ['tiffin', tiffin, { case: 'tiffin', threads: undefined }, CONNECTIONS],
      ['runner', runner, { case: 'runner only', threads: undefined }, CONNECTIONS],
      ['naive1', naive1, { case: 'naive', threads: naive1Threads }, 1],
      ['tiffin1', tiffin, { case: 'tiffin', threads: undefined }, 1],
      ['runner1', runner, { case: 'runner only', threads: undefined }, 1],
    ];
    // One visit per process and case in each round; cases interleaved, the order reversed every other round.
    const visits: [Key, RunningServer, CaseInfo, number, number][] = [];
    for (let i = 0; i < PROCESSES; i++) for (const [key, group, what, connections] of cases) visits.push([key, group[i]!, what, connections, i]);
    for (const [, server, , connections] of visits) if (WARMUP_S > 0) await load(`${server.url}/predict`, setup.body, connections, WARMUP_S);
    const rounds = new Map<Key, Measured[]>();
    const byProcess = new Map<string, { answered: number; seconds: number }>();
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? visits : [...visits].reverse();
      for (const [key, server, what, connections, i] of order) {
        const m = await measure(setup, server, what, connections, visitS);
        rounds.set(key, [...(rounds.get(key) ?? []), m]);
        const p = byProcess.get(`${key} ${i}`) ?? { answered: 0, seconds: 0 };
        p.answered += m.load.rps * m.load.seconds;
        p.seconds += m.load.seconds;
        byProcess.set(`${key} ${i}`, p);
        console.log(`  round ${r + 1}, ${what.case} #${i + 1} at ${connections}: ${fixed(m.load.rps, 0)} req/s, p99 ${fixed(m.load.p99Ms, 1)} ms`);
      }
    }
    const results = Object.fromEntries(cases.map(([key]) => [key, combine(rounds.get(key)!)])) as Results;
    console.log('\nreq/s by process');
    for (const [key, , what, connections] of cases) {
      const each = Array.from({ length: PROCESSES }, (_, i) => byProcess.get(`${key} ${i}`)!);
      results[key].reqPerSecondByProcess = each.map((p) => p.answered / p.seconds);
      console.log(`  ${what.case} at ${connections}: ${results[key].reqPerSecondByProcess!.map((v) => fixed(v, 0)).join(', ')}`);
    }
    return { results, probes: [...naiveProbes, ...microProbes] };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

function printResults(r: Results, targets: Target[], rawBest: RawPoint): void {
  const rows = [r.naive, r.micro, r.tiffin, r.runner, r.naive1, r.tiffin1, r.runner1];
  console.log();
  console.log(markdownTable(
    ['server', 'connections', 'threads', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'errors', 'non-2xx', 'server cores', 'CPU µs/req', 'main thread µs/req', 'autocannon µs/req'],
    rows.map((m) => [
      m.case, String(m.load.connections), m.threads === undefined ? 'default' : String(m.threads), fixed(m.load.rps, 0),
      fixed(m.load.p50Ms, 2), fixed(m.load.p90Ms, 2), fixed(m.load.p99Ms, 2), String(m.load.errors), String(m.load.non2xx),
      fixed(m.serverCores, 2), fixed(m.cpuUsPerRequest, 0), fixed(m.mainThreadUsPerRequest, 0), fixed(m.load.clientCpuUsPerRequest, 0),
    ]),
  ));
  console.log();
  console.log(markdownTable(['target', 'measured', 'wanted', ''], targets.map((t) => [t.what, fixed(t.value, 2), t.target, t.pass ? 'PASS' : 'FAIL'])));
  const fraction = r.tiffin.load.rps / rawBest.rowsPerSecond;
  console.log(`\nTiffin at ${CONNECTIONS} connections serves ${r.tiffin.load.rps.toFixed(0)} rows/s: ${(fraction * 100).toFixed(0)}% of the best in-process session.run (${rawBest.rowsPerSecond.toFixed(0)} rows/s at batch ${rawBest.batch}, ${rawBest.threads} thread(s))`);
  // The event loop is what saturates first; its CPU per request splits the gap to (b) between layers.
  const main = (m: Measured) => m.mainThreadUsPerRequest ?? NaN;
  console.log(`Event-loop CPU per request at ${CONNECTIONS} connections: micro-batcher ${fixed(main(r.micro), 0)} µs, runner only ${fixed(main(r.runner), 0)} µs, tiffin ${fixed(main(r.tiffin), 0)} µs`
    + ` (runner over the minimal batcher: ${fixed(main(r.runner) - main(r.micro), 0)} µs; Tiffin's server and service layers: ${fixed(main(r.tiffin) - main(r.runner), 0)} µs)`);
}

async function main(): Promise<void> {
  const load0 = loadavg();
  console.log(`Node ${process.version}, ${CORES} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`MLP 256-1024-1024-10, one row of 256 floats per request as JSON; ${DURATION_S} s per run after ${WARMUP_S} s of warm-up, ${CONNECTIONS} connections\n`);
  const setup = await prepare();
  try {
    const raw: RawPoint[] = [];
    for (const threads of THREAD_CHOICES) raw.push(...(await rawThroughput(setup.modelPath, threads, RAW_BATCHES, RAW_MS)));
    console.log('In-process session.run (the model\'s limit)');
    console.log(markdownTable(['threads', 'batch', 'rows/s', 'ms per run'], raw.map((p) => [String(p.threads), String(p.batch), fixed(p.rowsPerSecond, 0), fixed(p.runMs, 2)])));
    const rawBest = raw.reduce((a, b) => (b.rowsPerSecond > a.rowsPerSecond ? b : a));

    const { results, probes } = await measureServers(setup);
    const targets = targetsOf(results);
    printResults(results, targets, rawBest);
    const load1 = loadavg();
    console.log(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')}`);

    const outDir = fileURLToPath(new URL('./out/', import.meta.url));
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `batching-${new Date().toISOString().replaceAll(':', '-')}.json`);
    await writeFile(file, JSON.stringify({
      date: new Date().toISOString(), node: process.version, cores: CORES, cpu: cpus()[0]?.model,
      loadAverage: { start: load0, end: load1 },
      settings: { durationS: DURATION_S, rounds: ROUNDS, processes: PROCESSES, connections: CONNECTIONS, probeS: PROBE_S, warmupS: WARMUP_S },
      raw, rawBest, probes, results, targets, tiffinFractionOfRaw: results.tiffin.load.rps / rawBest.rowsPerSecond,
    }, null, 2) + '\n');
    console.log(`results written to ${file}`);
    if (process.env.BENCH_STRICT === '1' && targets.some((t) => !t.pass)) process.exitCode = 1;
  } finally {
    await rm(setup.dir, { recursive: true, force: true });
  }
}

await main();
