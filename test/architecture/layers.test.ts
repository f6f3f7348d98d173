// The layer rule (.dependency-cruiser.cjs, ARCHITECTURE.md): src/ passes it, and a small tree that breaks it
// in each way the rules name (a lower layer importing a higher one, a value cycle, library code importing test
// support) fails with exactly those violations, so the check cannot pass vacuously.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

async function cruise(cwd: string): Promise<Violation[]> {
  const run = await promisify(execFile)(process.execPath, [DEPCRUISE, 'src', '--config', CONFIG, '--output-type', 'json'], { cwd, maxBuffer: 256 << 20 }).catch(
    // depcruise exits non-zero when it finds violations; the JSON report is still on stdout.
    (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
  );
  const report = JSON.parse(run.stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations;
}

test('src/ imports only down the layer order, with no value cycles and no test code in the library', async () => {
  const violations = await cruise(ROOT);
  assert.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), []);
});

test('the rules catch an upward import, a value cycle and test support in library code', async () => {
  const violations = await cruise(join(ROOT, 'test/architecture/fixtures'));
  const found = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
  assert.deepEqual(found, [
    'layer-runtime: src/runtime/tensor.ts -> src/store/manifest.ts',
    'no-circular: src/batching/queue.ts -> src/batching/stats.ts',
    'no-test-code-in-library: src/runner/pool.ts -> src/runner/test-fixtures.ts',
  ]);
});
