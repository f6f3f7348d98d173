// `npm run build`: compiles the library to dist/ (tsconfig.build.json) and copies the files tsc does not emit,
// the worker entry points written in plain JavaScript and the .proto schemas read at run time. It builds into
// dist.next-<pid>/ and swaps it in at the end, so CLI processes started meanwhile find a whole dist/, old or new.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');
const next = join(root, `dist.next-${process.pid}`); // one per build: two builds may run at once
const ASSETS = /\.(js|proto)$/;

rmSync(next, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', next], { stdio: 'inherit' });
} catch {
  rmSync(next, { recursive: true, force: true });
  process.exit(1);
}

for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !ASSETS.test(entry.name)) continue;
  const from = join(entry.parentPath, entry.name);
  cpSync(from, join(next, relative(src, from)));
}
rmSync(dist, { recursive: true, force: true });
renameSync(next, dist);
