// Owns: running the `tiffin` command as a child process in tests: its output, waiting for a line, its exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = join(fileURLToPath(new URL('../../', import.meta.url)), 'bin/tiffin.js');

export interface Running {
  child: ChildProcess;
  output: () => string;
  /** How much stdout there is so far (a starting point for waitFor). */
  mark: () => number;
  /** Resolves with the match once stdout has a line matching `pattern` (after `from` characters). */
  waitFor: (pattern: RegExp, from?: number) => Promise<RegExpMatchArray>;
  exit: Promise<number | null>;
}

export interface StartOptions {
  cwd: string;
  /** Added to this process's environment, unless `cleanEnv`. */
  env?: Record<string, string>;
  /** Only PATH and `env`: no HOME, TIFFIN_* or npm settings leak in from the test's own environment. */
  cleanEnv?: boolean;
  nodeArgs?: string[];
  /** The CLI to run (default this repository's bin/tiffin.js). */
  bin?: string;
}

/** Runs the `tiffin` command as a child process, killed when the test ends. */
export function startTiffin(t: TestContext, args: string[], options: StartOptions): Running {
  const env = options.cleanEnv ? { PATH: process.env.PATH ?? '/usr/bin:/bin', ...options.env } : { ...process.env, ...options.env };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.bin ?? BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitFor = (pattern: RegExp, from = 0) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; stdout:\n${out}\nstderr:\n${err}`)), 30_000);
      const check = () => {
        const m = out.slice(from).match(pattern);
        if (m) {
          clearTimeout(timer);
          listeners.delete(check);
          resolve(m);
        }
      };
      listeners.add(check);
      void exit.then(() => {
        if (listeners.has(check)) {
          clearTimeout(timer);
          reject(new Error(`exited before ${pattern}; stdout:\n${out}\nstderr:\n${err}`));
        }
      });
      check();
    });
  return { child, output: () => `${out}\n--- stderr ---\n${err}`, mark: () => out.length, waitFor, exit };
}

/** Runs the real `tiffin` binary to completion with its own TIFFIN_HOME; never throws, returns code and output. */
export async function runTiffin(home: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, TIFFIN_HOME: home } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
