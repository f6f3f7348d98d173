// Starts a server under test in its own process on a free loopback port, so that servers never share a
// process with each other or with the load generator, and waits until its /readyz answers 200.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { usableCores } from '../../src/runner/cores.ts';

/**
 * bin/tiffin.js's V8 flags, to put before it in a spec's args: given them, it runs the server in the spawned process
 * itself instead of re-executing Node, so the pid a benchmark samples for CPU is the server's own.
 */
export const TIFFIN_V8_FLAGS = ['--no-allocation-site-pretenuring', ...(usableCores() <= 2 ? ['--no-parallel-scavenge'] : [])];

export interface ServerSpec {
  /** How errors name it. */
  name: string;
  /** Arguments after `node`; `{port}` in them and in `env` values is replaced by the port. */
  args: string[];
  /** Added to this process's environment, minus TIFFIN_* variables (a server under test runs with its defaults). */
  env?: Record<string, string>;
  cwd?: string;
  /** Its stdout and stderr go here (a server that logs every request must not block on a full pipe). */
  logFile: string;
  readyTimeoutMs?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
// A failed or interrupted run must not leave servers behind holding cores.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

export async function startServer(spec: ServerSpec): Promise<RunningServer> {
  const port = await freePort();
  const out = openSync(spec.logFile, 'a');
  const fill = (text: string) => text.replaceAll('{port}', String(port));
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('TIFFIN_')) env[name] = value;
  for (const [name, value] of Object.entries(spec.env ?? {})) env[name] = fill(value);
  const child = spawn(process.execPath, spec.args.map(fill), { env, cwd: spec.cwd, stdio: ['ignore', out, out] });
  closeSync(out);
  live.add(child);
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    live.delete(child);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited with code ${child.exitCode} before it was ready:\n${tail(spec.logFile)}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} was not ready within ${spec.readyTimeoutMs ?? 60_000} ms:\n${tail(spec.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, stop };
}

/**
 * CPU seconds (user + system) a process has used so far: all its threads, or only its main thread
 * (the event loop, where HTTP, JSON and batching run). Undefined off Linux.
 */
export function cpuSeconds(pid: number, which: 'process' | 'main-thread' = 'process'): number | undefined {
  try {
    const stat = readFileSync(which === 'process' ? `/proc/${pid}/stat` : `/proc/${pid}/task/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}
