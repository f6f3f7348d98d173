// The telemetry cost benchmark: what metrics, the access log and tracing cost in throughput. The batching
// benchmark's workload (an MLP 256 -> 1024 -> 1024 -> 10, one row of 256 floats as JSON per request, 64
// connections) against `tiffin serve` processes of the same service, started side by side:
//   on:  the defaults (Prometheus metrics, one JSON access-log line per request to the log file) plus tracing,
//        exported over OTLP/HTTP to a stand-in collector in a process of its own, with Tiffin's default sampling
//        (every trace a caller sampled, and up to 100 new traces a second) or, with BENCH_TRACE=all, every request;
//   off: metrics, access log and tracing turned off in tiffin.yaml.
// Load alternates between them in rounds (off, on, on, off, off, on, ...), so that drift on a shared machine
// falls on both alike. Each case runs in several processes (3 by default) and its throughput is over all of
// them: on the 2-core VM, identical servers in separate processes differed by 5-30% in req/s for as long as they
// ran, so one process per case compares processes rather than settings. Target: `on` keeps at least 95% of
// `off`'s throughput.
//
// Run: npm run bench -- telemetry-cost   (or: npx tsx bench/telemetry-cost.ts)
// Env: BENCH_DURATION seconds of load per case (48), BENCH_ROUNDS rounds (4), BENCH_PROCESSES per case (3),
//      BENCH_CONNECTIONS (64),
//      BENCH_WARMUP seconds of unmeasured load per server (10), BENCH_TRACE: default (Tiffin's sampling), all (every
//      request) or a ratio such as 0.1 (parentbased_traceidratio), BENCH_ON the features on in the `on` case
//      (default metrics,log,tracing; a subset prices one feature alone; none makes both cases the same, an A/A run
//      that shows how much the ratio moves when nothing differs),
//      BENCH_STRICT=1 to exit 1 when the target is missed. Results: the table below and bench/out/telemetry-cost-*.json.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Models } from '../src/models/index.ts';
import { ModelStore } from '../src/store/index.ts';
import { load, type LoadResult } from './lib/load.ts';
import { MODEL_NAME, requestBody, writeBenchModel } from './lib/model.ts';
import { cpuSeconds, startServer, TIFFIN_V8_FLAGS, type RunningServer, type ServerSpec } from './lib/server-process.ts';
import { fixed, markdownTable } from './lib/table.ts';

const DURATION_S = Number(process.env.BENCH_DURATION ?? 48);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const PROCESSES = Math.max(1, Number(process.env.BENCH_PROCESSES ?? 3));
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const WARMUP_S = Number(process.env.BENCH_WARMUP ?? 10);
const FEATURES = ['metrics', 'log', 'tracing'] as const;
const ON = new Set((process.env.BENCH_ON ?? FEATURES.join(',')).split(',').map((s) => s.trim()).filter((s) => s && s !== 'none'));
for (const f of ON) if (!(FEATURES as readonly string[]).includes(f)) throw new Error(`BENCH_ON takes ${FEATURES.join(', ')}; got ${f}`);
const TRACE = process.env.BENCH_TRACE ?? 'default';
if (TRACE !== 'default' && TRACE !== 'all' && !(Number(TRACE) >= 0 && Number(TRACE) <= 1)) throw new Error(`BENCH_TRACE must be default, all or a ratio from 0 to 1; got ${TRACE}`);
/** OTEL_* for the sampling asked for; none for Tiffin's default. */
const SAMPLER_ENV: Record<string, string> =
  TRACE === 'default' ? {} : TRACE === 'all' ? { OTEL_TRACES_SAMPLER: 'parentbased_always_on' } : { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: TRACE };
const TRACING_DESCRIPTION =
  TRACE === 'default' ? "Tiffin's default sampling: up to 100 new traces a second" : TRACE === 'all' ? 'every request traced' : `${Number(TRACE) * 100}% of requests traced`;
const TARGET = 0.95;
const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

type CaseName = 'off' | 'on';

interface Totals {
  answered: number;
  seconds: number;
  cpu: number;
  /** CPU seconds of the event loop alone: where most of telemetry's per-request work runs. */
  mainCpu: number;
  runs: LoadResult[];
}

/** tiffin.yaml turning off what is not in `on`. */
function configFile(on: ReadonlySet<string>): string {
  const lines: string[] = [];
  if (!on.has('metrics')) lines.push('metrics:', '  enabled: false');
  if (!on.has('log')) lines.push('logging:', '  accessLog: false');
  if (!on.has('tracing')) lines.push('tracing:', '  enabled: false');
  return `${lines.join('\n')}\n`;
}

function tiffinSpec(name: CaseName, index: number, cwd: string, home: string, env: Record<string, string>): ServerSpec {
  return {
    name: `tiffin serve (telemetry ${name} #${index + 1})`,
    args: [...TIFFIN_V8_FLAGS, here('../bin/tiffin.js'), 'serve', here('./servers/tiffin-service.ts'), '--port', '{port}', '--no-grpc'],
    env: { TIFFIN_HOME: home, ...env },
    cwd,
    logFile: join(cwd, `server-${index + 1}.log`),
  };
}

/** on/off from each pair of adjacent visits (the same process index, one after the other, so the machine was in
 * much the same state for both): their geometric mean and its standard error. The `i`-th visit of each case
 * belong together, because every round visits off #i and on #i one after the other. */
function pairedRatio(on: readonly LoadResult[], off: readonly LoadResult[]): { pairs: number; mean: number; standardError: number } {
  const logs = on.map((r, i) => Math.log(r.rps / off[i]!.rps));
  const mean = logs.reduce((a, b) => a + b, 0) / logs.length;
  const variance = logs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, logs.length - 1);
  return { pairs: logs.length, mean: Math.exp(mean), standardError: Math.exp(mean) * Math.sqrt(variance / logs.length) };
}

/** Lines with this msg in the case's server logs. */
async function countLines(cwd: string, msg: string): Promise<number> {
  let n = 0;
  for (let i = 0; i < PROCESSES; i++) {
    const text = await readFile(join(cwd, `server-${i + 1}.log`), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.includes(`"msg":"${msg}"`)) n++;
  }
  return n;
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const load0 = loadavg();
  console.log(`Node ${process.version}, ${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), load average ${load0.map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`MLP 256-1024-1024-10, one row per request as JSON, ${CONNECTIONS} connections; ${DURATION_S} s per case over ${PROCESSES} processes and ${ROUNDS} rounds, alternating`);
  const onText = [ON.has('metrics') && 'metrics', ON.has('log') && 'access log', ON.has('tracing') && `tracing (${TRACING_DESCRIPTION}; OTLP to a collector process)`].filter(Boolean).join(' + ') || 'nothing (an A/A run: both cases the same)';
  console.log(`on: ${onText}; off: all three off\n`);

  const dir = await mkdtemp(join(tmpdir(), 'tiffin-bench-telemetry-'));
  const servers: RunningServer[] = [];
  try {
    const home = join(dir, 'home');
    await new Models(new ModelStore(join(home, 'models'))).save(`${MODEL_NAME}:1`, await writeBenchModel(dir), { framework: 'onnx', batchable: true });
    const onDir = join(dir, 'on');
    const offDir = join(dir, 'off');
    await mkdir(onDir);
    await mkdir(offDir);
    await writeFile(join(offDir, 'tiffin.yaml'), configFile(new Set()));
    await writeFile(join(onDir, 'tiffin.yaml'), configFile(ON));

    const sink = await startServer({ name: 'OTLP sink', args: ['--import', 'tsx', here('./servers/otlp-sink.ts')], env: { PORT: '{port}' }, logFile: join(dir, 'sink.log') });
    servers.push(sink);
    const traceEnv: Record<string, string> = { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url, OTEL_SERVICE_NAME: 'telemetry-bench' };
    Object.assign(traceEnv, SAMPLER_ENV);
    const byCase: Record<CaseName, RunningServer[]> = { on: [], off: [] };
    // Started in the order on, off, off, on, on, off, ...: a process started later tended to run faster here, and
    // this way neither case is always the later one. Both get the same environment (the off case's tiffin.yaml
    // turns tracing off whatever OTEL_* say), so that the two differ in their tiffin.yaml alone.
    const started: RunningServer[] = [];
    for (let i = 0; i < PROCESSES; i++) {
      for (const name of i % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        const server = await startServer(tiffinSpec(name, i, name === 'on' ? onDir : offDir, home, traceEnv));
        byCase[name].push(server);
        started.push(server);
      }
    }
    servers.push(...started);
    const { on, off } = { on: byCase.on[0]!, off: byCase.off[0]! };
    const body = requestBody();

    // Warmed in the order they started. With 3 s each, the first round still ran about 9% slower than the later
    // ones over 27 runs (bench/RESULTS.md), which a ratio of the two cases should not lean on.
    for (const s of started) if (WARMUP_S > 0) await load(`${s.url}/predict`, body, CONNECTIONS, WARMUP_S);
    const spans0 = ((await (await fetch(`${sink.url}/count`)).json()) as { spans: number }).spans;
    const lines0 = await countLines(onDir, 'request');

    const totals: Record<CaseName, Totals> = { on: { answered: 0, seconds: 0, cpu: 0, mainCpu: 0, runs: [] }, off: { answered: 0, seconds: 0, cpu: 0, mainCpu: 0, runs: [] } };
    // Each round visits every process once, off and on interleaved, the order reversed every other round.
    const visits: [CaseName, number][] = [];
    for (let i = 0; i < PROCESSES; i++) visits.push(['off', i], ['on', i]);
    const order: [CaseName, number][] = [];
    for (let r = 0; r < ROUNDS; r++) order.push(...(r % 2 === 0 ? visits : [...visits].reverse()));
    const perProcess = new Map<RunningServer, { answered: number; seconds: number }>();
    for (const [name, index] of order) {
      const server = byCase[name][index]!;
      const cpu0 = cpuSeconds(server.pid) ?? 0;
      const main0 = cpuSeconds(server.pid, 'main-thread') ?? 0;
      const result = await load(`${server.url}/predict`, body, CONNECTIONS, DURATION_S / ROUNDS / PROCESSES);
      const p = perProcess.get(server) ?? { answered: 0, seconds: 0 };
      p.answered += result.rps * result.seconds;
      p.seconds += result.seconds;
      perProcess.set(server, p);
      const t = totals[name];
      t.cpu += (cpuSeconds(server.pid) ?? 0) - cpu0;
      t.mainCpu += (cpuSeconds(server.pid, 'main-thread') ?? 0) - main0;
      t.answered += result.rps * result.seconds;
      t.seconds += result.seconds;
      t.runs.push(result);
      console.log(`  ${name.padEnd(3)} #${index + 1} ${fixed(result.rps, 0).padStart(7)} req/s  p99 ${fixed(result.p99Ms, 2)} ms  (errors ${result.errors}, non-2xx ${result.non2xx})`);
    }
    const byProcess = (name: CaseName) => byCase[name].map((s) => perProcess.get(s)!.answered / perProcess.get(s)!.seconds);
    const spread = (name: CaseName) => byProcess(name).map((r) => fixed(r, 0)).join(', ');
    console.log(`\nreq/s by process: off ${spread('off')}; on ${spread('on')}`);

    // The `on` server really did the work being priced: metrics served, one access line per request, spans exported.
    await new Promise((r) => setTimeout(r, 2000)); // the span processor posts spans every 200 ms
    const metricsOn = await (await fetch(`${on.url}/metrics`)).text();
    const metricsOffStatus = (await fetch(`${off.url}/metrics`)).status;
    const spans = ((await (await fetch(`${sink.url}/count`)).json()) as { spans: number }).spans - spans0;
    const lines = (await countLines(onDir, 'request')) - lines0;
    const checks = {
      metricsServed: /tiffin_inference_requests_total\{[^}]*outcome="success"\}/.test(metricsOn),
      offHasNoMetrics: metricsOffStatus === 404,
      accessLinesPerRequest: lines / totals.on.answered,
      spansPerRequest: spans / totals.on.answered,
    };

    const rps = (t: Totals) => t.answered / t.seconds;
    const ratio = rps(totals.on) / rps(totals.off);
    const paired = pairedRatio(totals.on.runs, totals.off.runs);
    const rows = (['off', 'on'] as const).map((name) => {
      const t = totals[name];
      const p99 = Math.max(...t.runs.map((r) => r.p99Ms));
      const perRequest = (seconds: number) => fixed((seconds * 1e6) / t.answered, 0);
      return [name, fixed(rps(t), 0), fixed(p99, 2), perRequest(t.cpu), perRequest(t.mainCpu), String(t.runs.reduce((n, r) => n + r.errors + r.non2xx, 0))];
    });
    console.log('\n' + markdownTable(['telemetry', 'req/s', 'worst round p99 (ms)', 'server CPU µs/request', 'event loop µs/request', 'errors'], rows));
    console.log(`\naccess-log lines per request ${fixed(checks.accessLinesPerRequest, 3)}, spans exported per request ${fixed(checks.spansPerRequest, 3)}, metrics served: ${checks.metricsServed}, off serves no /metrics: ${checks.offHasNoMetrics}`);
    const pass = ratio >= TARGET;
    console.log(`on / off throughput: ${fixed(ratio, 3)} (target >= ${TARGET}: ${pass ? 'met' : 'MISSED'})`);
    console.log(
      `the same from the ${paired.pairs} pairs of adjacent visits: ${fixed(paired.mean, 3)} ± ${fixed(paired.standardError, 3)} ` +
        '(geometric mean ± standard error; the ± is how far this run can be trusted, and an A/A run, BENCH_ON=none, shows it)',
    );
    const load1 = loadavg();
    console.log(`load average at the end: ${load1.map((l) => l.toFixed(2)).join(' ')}`);

    const outDir = here('./out/');
    await mkdir(outDir, { recursive: true });
    const file = join(outDir, `telemetry-cost-${new Date().toISOString().replaceAll(':', '-')}.json`);
    await writeFile(
      file,
      JSON.stringify(
        {
          date: new Date().toISOString(), node: process.version, cores, cpu: cpus()[0]?.model, loadAverage: { start: load0, end: load1 },
          settings: { durationS: DURATION_S, rounds: ROUNDS, processes: PROCESSES, connections: CONNECTIONS, warmupS: WARMUP_S, on: [...ON], trace: TRACE },
          totals, reqPerSecondByProcess: { off: byProcess('off'), on: byProcess('on') }, ratio, paired, target: TARGET, pass, checks,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`results written to ${file}`);
    // Each traced request yields two spans: the request's and its model call's.
    const spansWanted = TRACE === 'all' ? 1.9 : TRACE === 'default' ? 0 : 1.5 * Number(TRACE);
    const sane =
      checks.offHasNoMetrics &&
      checks.metricsServed === ON.has('metrics') &&
      (ON.has('log') ? checks.accessLinesPerRequest > 0.99 : checks.accessLinesPerRequest === 0) &&
      (ON.has('tracing') ? spans > 0 && checks.spansPerRequest >= spansWanted : spans === 0);
    if (!sane) console.error('the on case did not do all the telemetry work it should have: the ratio above prices less than it claims');
    if (process.env.BENCH_STRICT === '1' && (!pass || !sane)) process.exitCode = 1;
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
