// `npm run bench` runs every benchmark in bench/, one after another (each in its own process, so none
// inherits another's threads or heap); `npm run bench -- batching protocols` runs the ones named.
// A benchmark is a .ts file directly in bench/: helpers live in bench/lib and bench/servers, and
// tmp-*.ts files are scratch work, never run; soak.ts (a long fault-injection run, not a measurement) runs only when
// named: `npm run bench -- soak`. The library is built first: servers run `bin/tiffin.js`, which
// loads dist/, and a stale dist/ would measure yesterday's code.
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('tmp-'))
  .map((f) => f.slice(0, -'.ts'.length))
  .sort();

/** `batching`, `batching.ts` and `bench/batching.ts` all name bench/batching.ts. */
const wanted = process.argv.slice(2).map((a) => basename(a).replace(/\.ts$/, ''));
const unknown = wanted.filter((w) => !available.includes(w));
if (unknown.length > 0) {
  console.error(`no benchmark named ${unknown.join(', ')}; the benchmarks are: ${available.join(', ')}`);
  process.exit(2);
}

function runOne(name: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `${dir}${name}.ts`], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], { stdio: 'inherit' });

const failed: string[] = [];
const ONLY_WHEN_NAMED = ['soak'];
for (const name of wanted.length > 0 ? wanted : available.filter((n) => !ONLY_WHEN_NAMED.includes(n))) {
  console.log(`\n=== bench/${name}.ts ===`);
  const t0 = performance.now();
  const code = await runOne(name);
  console.log(`=== bench/${name}.ts ${code === 0 ? 'done' : `failed (exit ${code})`} in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  if (code !== 0) failed.push(name);
}
if (failed.length > 0) {
  console.error(`\nfailed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
