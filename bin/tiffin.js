#!/usr/bin/env node
// The `tiffin` command. Tiffin ships TypeScript sources and runs them through tsx,
// which is also what lets `tiffin serve ./service.ts` load user code with no build step.
// Both hooks: a .ts file outside a "type": "module" package (most user projects, and the model store)
// is CommonJS to Node, and only tsx's CommonJS hook can load it.
import { setFlagsFromString } from 'node:v8';
import { register as registerCjs } from 'tsx/cjs/api';
import { register } from 'tsx/esm/api';

// V8's allocation-site pretenuring, under steady load, now and then decides that objects made at the start of
// every request live long, and allocates them in the old generation from then on. Each such object, garbage
// a few ms later, keeps the young objects it points to alive through every scavenge until a full collection:
// the whole request (about 1 MB per scavenge here) is promoted, scavenges take 3-4 times as long, and the
// server loses about a fifth of its throughput until the load stops. Off, that cannot happen, and the
// benchmarks lost nothing measurable (bench/RESULTS.md, "The state, followed up"). Set before any other code
// runs; V8 flags are per process, so the runners' threads get it too.
setFlagsFromString('--no-allocation-site-pretenuring');

register();
registerCjs();

// On two cores or fewer, V8 scavenges the young generation on the collecting thread alone. Its parallel scavenge
// hands part of each collection to helper threads, but there the event loop, the runner replicas and usually
// the load already use both cores, so the helpers wait to run while the event loop waits for them. Off, the
// same server served 4.5% and 12.5% more and used 3% and 11% less CPU in two alternating runs (bench/RESULTS.md,
// "V8's garbage-collector threads"). V8 reads this flag at each scavenge, so setting it now is safe; the rest
// of --single-threaded-gc is read at start-up only (set later, it crashed V8).
const { usableCores } = await import('../src/runner/cores.ts');
if (usableCores() <= 2) setFlagsFromString('--no-parallel-scavenge');

await import('../src/cli/main.ts');
