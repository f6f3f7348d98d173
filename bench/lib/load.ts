// HTTP load from autocannon's programmatic API, summarised as throughput, exact latency percentiles and
// failures. autocannon's own histogram keeps whole milliseconds, too coarse for a 10 ms p99 target or a
// one-connection run, so latencies are taken from its per-response events instead.
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';

/** The slice of autocannon's result used here (it ships no types). */
interface AutocannonResult {
  /** Seconds, to 10 ms. */
  duration: number;
  errors: number;
  non2xx: number;
}

interface AutocannonOptions {
  url: string;
  connections: number;
  duration: number;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
}

type Autocannon = (options: AutocannonOptions, done: (err: Error | null, result: AutocannonResult) => void) => EventEmitter;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface LoadResult {
  connections: number;
  seconds: number;
  /** 2xx responses per second. */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Connection errors, timeouts included. */
  errors: number;
  non2xx: number;
  /** CPU the load generator itself spent per answered request, in microseconds: it shares the machine. */
  clientCpuUsPerRequest: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** POSTs `body` as JSON to `url` from `connections` connections for `seconds`. */
export function load(url: string, body: string, connections: number, seconds: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  return new Promise((resolve, reject) => {
    const options: AutocannonOptions = { url, connections, duration: seconds, method: 'POST', headers: { 'content-type': 'application/json' }, body };
    const tracker = autocannon(options, (err, result) => {
      if (err) return reject(err);
      const cpu = process.cpuUsage(cpu0);
      const sorted = Float64Array.from(latencies).sort();
      let sum = 0;
      for (const l of latencies) sum += l;
      resolve({
        connections,
        seconds: result.duration,
        rps: latencies.length / result.duration,
        p50Ms: percentile(sorted, 0.5),
        p90Ms: percentile(sorted, 0.9),
        p99Ms: percentile(sorted, 0.99),
        meanMs: sum / Math.max(1, latencies.length),
        errors: result.errors,
        non2xx: result.non2xx,
        clientCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, latencies.length),
      });
    });
    tracker.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}
