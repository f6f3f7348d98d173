#!/usr/bin/env node
// The `tiffin` command: runs the built CLI (dist/cli/main.js) with tsx's loader registered, which is what lets
// `tiffin serve ./service.ts` load user code and custom TypeScript models with no build step. The library itself
// is plain JavaScript and needs no loader. Both hooks: a .ts file outside a "type": "module" package (most user
// projects, and the model store) is CommonJS to Node, and only tsx's CommonJS hook can load it.
//
// Two V8 flags are real command-line flags, so the command re-executes Node with them once (V8 documents flags
// set after start-up as unpredictable; NODE_OPTIONS does not accept these):
// - --no-allocation-site-pretenuring: under steady load V8 now and then decides that objects made at the start of
//   every request live long and allocates them in the old generation; each keeps the young objects it points to
//   alive until a full collection, scavenges take 3-4 times as long and the server loses about a fifth of its
//   throughput until the load stops (bench/RESULTS.md, "V8 flags").
// - --no-parallel-scavenge, on two cores or fewer: the helper threads of a parallel scavenge wait for cores the
//   event loop, the runner replicas and the load already use, while the event loop waits for them.
import { spawn } from 'node:child_process';
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';
import { usableCores } from '../dist/runner/cores.js';

const flags = ['--no-allocation-site-pretenuring', ...(usableCores() <= 2 ? ['--no-parallel-scavenge'] : [])];

if (flags.every((f) => process.execArgv.includes(f))) {
  // Started by the branch below: if that process dies without passing a signal on (SIGKILL), shut down too.
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  register();
  registerCjs();
  await import('../dist/cli/main.js');
} else {
  // Flags the caller gave Node come after ours, so an explicit --allocation-site-pretenuring still wins. The child
  // has a process group of its own, so a terminal's Ctrl-C reaches it once (forwarded), not twice: a second signal
  // means "exit without waiting" to `tiffin serve`.
  const child = spawn(process.execPath, [...flags, ...process.execArgv, ...process.argv.slice(1)], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  process.on('exit', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
    }
    process.exit(code ?? 1);
  });
}
