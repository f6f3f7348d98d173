// The servers the batching benchmark compares, as processes to start (bench/servers holds their code), and
// the check every one of them passes before it is loaded: the right answer to the benchmark's request.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxDifference } from './model.ts';
import { startServer, TIFFIN_V8_FLAGS, type RunningServer, type ServerSpec } from './server-process.ts';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** What the parent prepared once for every case: a temp folder, the model, a store holding it, the request. */
export interface Setup {
  dir: string;
  modelPath: string;
  tiffinHome: string;
  body: string;
  expected: Float32Array;
}

export function naiveSpec(setup: Setup, threads: number): ServerSpec {
  return {
    name: `naive server (${threads} intra-op threads)`,
    args: ['--import', 'tsx', here('../servers/naive.ts')],
    env: { BENCH_MODEL: setup.modelPath, BENCH_THREADS: String(threads), PORT: '{port}' },
    logFile: join(setup.dir, `naive-${threads}.log`),
  };
}

export function microSpec(setup: Setup, threads: number): ServerSpec {
  return {
    name: `micro-batcher (${threads} intra-op threads)`,
    args: ['--import', 'tsx', here('../servers/micro-batcher.ts')],
    env: { BENCH_MODEL: setup.modelPath, BENCH_THREADS: String(threads), PORT: '{port}' },
    logFile: join(setup.dir, `micro-${threads}.log`),
  };
}

export function runnerOnlySpec(setup: Setup): ServerSpec {
  return {
    name: 'runner only',
    args: ['--import', 'tsx', here('../servers/runner-only.ts')],
    env: { TIFFIN_HOME: setup.tiffinHome, PORT: '{port}' },
    logFile: join(setup.dir, 'runner-only.log'),
  };
}

/** The real `tiffin serve`: no flags but the port (and gRPC off, whose default port 8001 may be taken). */
export function tiffinSpec(setup: Setup): ServerSpec {
  return {
    name: 'tiffin serve',
    args: [...TIFFIN_V8_FLAGS, here('../../bin/tiffin.js'), 'serve', here('../servers/tiffin-service.ts'), '--port', '{port}', '--no-grpc'],
    env: { TIFFIN_HOME: setup.tiffinHome },
    // No stray tiffin.yaml can change the defaults from here.
    cwd: setup.dir,
    logFile: join(setup.dir, 'tiffin.log'),
  };
}

/** Starts the server and checks its answer against the in-process one; the caller stops it. */
export async function withServerStarted(setup: Setup, spec: ServerSpec): Promise<RunningServer> {
  const server = await startServer(spec);
  try {
    const res = await fetch(`${server.url}/predict`, { method: 'POST', body: setup.body, headers: { 'content-type': 'application/json' } });
    const text = await res.text();
    const output = res.ok ? (JSON.parse(text) as { output?: unknown }).output : undefined;
    const tolerance = 1e-4 * Math.max(1, ...Array.from(setup.expected, Math.abs));
    const diff = maxDifference(output, setup.expected);
    if (!(diff <= tolerance)) throw new Error(`${spec.name} answered ${res.status} ${text.slice(0, 300)} (largest difference from in-process: ${diff})`);
    return server;
  } catch (err) {
    await server.stop();
    throw err;
  }
}

/** Starts and checks the server, runs `use`, and stops it. */
export async function withServer<T>(setup: Setup, spec: ServerSpec, use: (server: RunningServer) => Promise<T>): Promise<T> {
  const server = await withServerStarted(setup, spec);
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}
