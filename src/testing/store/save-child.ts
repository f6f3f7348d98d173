// Test fixture: one process that saves a model into a store, for the concurrency and crash tests.
// Usage: node --import tsx save-child.ts '<json {root, name, version?, sourcePath, force?, pauseMs?}>'
// pauseMs holds the save after its manifest is written, just before it publishes (the store's first rename),
// which widens the window in which racing processes overlap; the crash test kills a saver there.
// With IPC (fork) it waits for a 'go' message before saving (so siblings start together) and reports
// { ok: true, manifest } or { ok: false, code, message } back; without IPC it prints that JSON on stdout.
import { syncBuiltinESMExports } from 'node:module';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTiffinError } from '../../errors/index.ts';
import { ModelStore } from '../../store/local-store.ts';
import { sampleSignatures } from './helpers.ts';

interface ChildJob {
  root: string;
  name: string;
  version?: string;
  sourcePath: string;
  force?: boolean;
  pauseMs?: number;
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;

if (job.pauseMs) {
  // The store imports rename from node:fs/promises; patching the builtin and syncing its ESM exports reaches it.
  const rename = fs.rename;
  let paused = false;
  fs.rename = async (from, to) => {
    if (!paused) {
      paused = true;
      await sleep(job.pauseMs);
    }
    return rename(from, to);
  };
  syncBuiltinESMExports();
}

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
