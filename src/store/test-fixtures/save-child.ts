// Test fixture: one process that saves a model into a store, for the concurrency and crash tests.
// Usage: node --import tsx save-child.ts '<json {root, name, version?, sourcePath, force?}>'
// With IPC (fork) it waits for a 'go' message before saving (so siblings start together) and reports
// { ok: true, manifest } or { ok: false, code, message } back; without IPC it prints that JSON on stdout.
import { isTiffinError } from '../../errors/index.ts';
import { ModelStore } from '../local-store.ts';
import { sampleSignatures } from './helpers.ts';

interface ChildJob {
  root: string;
  name: string;
  version?: string;
  sourcePath: string;
  force?: boolean;
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;

async function save(): Promise<unknown> {
  try {
    const manifest = await new ModelStore(job.root).write({
      name: job.name,
      version: job.version,
      framework: 'custom',
      frameworkVersion: '1.0.0',
      sourcePath: job.sourcePath,
      signatures: sampleSignatures(),
      force: job.force,
    });
    return { ok: true, manifest };
  } catch (err) {
    return isTiffinError(err) ? { ok: false, code: err.code, message: err.message } : { ok: false, code: 'UNEXPECTED', message: String(err) };
  }
}

if (process.send) {
  process.once('message', (msg) => {
    if (msg !== 'go') return;
    void save().then((result) => process.send?.(result, () => process.exit(0)));
  });
  process.send('ready');
} else {
  process.stdout.write(`${JSON.stringify(await save())}\n`);
}
