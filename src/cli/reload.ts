// `tiffin serve --reload`: a supervisor that runs the server in a child process and restarts it when a
// file under the service's folder changes (debounced; node_modules, .git and dot-folders ignored).
import { spawn, type ChildProcess } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { once } from 'node:events';

/** Set in the child so that it serves instead of supervising. */
export const RELOAD_CHILD_ENV = 'TIFFIN_RELOAD_CHILD';

const DEBOUNCE_MS = 150;
const KILL_AFTER_MS = 10_000;
const IGNORED = /(^|[\\/])(node_modules|\.git|\.tiffin|\.tmp|dist|coverage)([\\/]|$)|(^|[\\/])\.[^\\/]+$/;

export function isIgnoredChange(filename: string): boolean {
  return IGNORED.test(filename);
}

function say(line: string): void {
  process.stdout.write(`tiffin: ${line}\n`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}

/** Runs until SIGTERM/SIGINT; `args` are the child's arguments after the node binary (without --reload). */
export async function superviseWithReload(watchDir: string, args: string[]): Promise<void> {
  let child: ChildProcess | undefined;
  let restarting = false;
  let stopping = false;

  const start = () => {
    const c = spawn(process.execPath, [...process.execArgv, ...args], { stdio: 'inherit', env: { ...process.env, [RELOAD_CHILD_ENV]: '1' } });
    c.on('exit', (code, signal) => {
      if (!restarting && !stopping) say(`the server exited (${signal ?? `code ${code}`}); waiting for a change to restart`);
    });
    child = c;
  };

  let timer: NodeJS.Timeout | undefined;
  let changed = '';
  const restart = async () => {
    if (stopping || restarting) return;
    restarting = true;
    say(`${changed} changed; restarting`);
    if (child) await stopChild(child);
    restarting = false;
    if (!stopping) start();
  };
  const watcher: FSWatcher = watch(watchDir, { recursive: true }, (_event, filename) => {
    const name = filename ? String(filename) : '';
    if (!name || isIgnoredChange(name)) return;
    changed = name;
    clearTimeout(timer);
    timer = setTimeout(() => void restart(), DEBOUNCE_MS);
  });

  say(`watching ${watchDir} for changes`);
  start();

  await new Promise<void>((resolve) => {
    const stop = async () => {
      if (stopping) return;
      stopping = true;
      watcher.close();
      clearTimeout(timer);
      if (child) await stopChild(child);
      resolve();
    };
    process.once('SIGTERM', () => void stop());
    process.once('SIGINT', () => void stop());
  });
}
