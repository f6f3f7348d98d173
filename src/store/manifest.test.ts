import assert from 'node:assert/strict';
import { test } from 'node:test';
import YAML from 'yaml';
import { isTiffinError } from '../errors/index.ts';
import type { ManifestProblem, ModelManifest } from './manifest.ts';
import { parseManifest, stringifyManifest, validateManifest } from './manifest.ts';
import { sampleSignatures } from '../testing/store/helpers.ts';

const SHA = 'a'.repeat(64);

function sample(): ModelManifest {
  return {
    schemaVersion: 1,
    name: 'iris',
    version: '1.0',
    framework: 'onnx',
    frameworkVersion: '1.20.0',
    entry: 'model.onnx',
    createdAt: '2024-05-01T12:00:00.000Z',
    size: 30,
    labels: { stage: 'prod', enabled: 'true' },
    metadata: { accuracy: 0.97, classes: ['a', 'b'], nested: { ok: null } },
    signatures: sampleSignatures(),
    files: [
      { path: 'model.onnx', size: 10, sha256: SHA },
      { path: 'vocab/words.txt', size: 20, sha256: '0'.repeat(64) },
    ],
  };
}

/** The problems a MANIFEST_INVALID error lists, as "path: message" strings. */
function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(isTiffinError(err, 'MANIFEST_INVALID'), `expected MANIFEST_INVALID, got ${String(err)}`);
    return ((err.details as { problems: ManifestProblem[] }).problems).map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected MANIFEST_INVALID');
}

function withChange(change: (m: Record<string, unknown>) => void): string {
  const m = structuredClone(sample()) as unknown as Record<string, unknown>;
  change(m);
  return YAML.stringify(m);
}

test('stringify then parse gives the same manifest (strings that look like numbers stay strings)', () => {
  const m = sample();
  const text = stringifyManifest(m);
  assert.deepEqual(parseManifest(text), m);
  assert.match(text, /^schemaVersion: 1\nname: iris\nversion: "1.0"/);
});

test('text that is not YAML, or YAML with duplicate keys, is MANIFEST_INVALID', () => {
  assert.ok(problemsOf(() => parseManifest('name: [unclosed\n'))[0]?.includes('not valid YAML'));
  assert.ok(problemsOf(() => parseManifest('name: a\nname: b\n'))[0]?.includes('not valid YAML'));
  assert.ok(problemsOf(() => parseManifest('- just\n- a list\n'))[0]?.includes('must be a mapping'));
  assert.ok(problemsOf(() => parseManifest(''))[0]?.includes('must be a mapping'));
});

test('every problem is reported with where it is', () => {
  const problems = problemsOf(() => parseManifest(withChange((m) => {
    delete m.framework;
    m.extra = 1;
    m.version = 'latest';
    m.name = 'Iris';
    m.createdAt = 'yesterday';
    m.size = 31;
    (m.labels as Record<string, unknown>).n = 1;
    const files = m.files as Record<string, unknown>[];
    files[0]!.sha256 = 'XYZ';
    files[1]!.path = '../escape';
    const run = (m.signatures as Record<string, Record<string, unknown>>).run!;
    (run.inputs as Record<string, unknown>[])[0]!.dtype = 'float128';
    (run.outputs as Record<string, unknown>[])[0]!.shape = [-2];
  }), 'test.yaml'));
  const expect = ['framework: is required', 'extra: is not a known field', 'version: "latest" is reserved', 'name: "Iris" breaks the naming rule',
    'createdAt: must be an ISO 8601', 'labels.n: must be a string', 'files[0].sha256: must be 64', 'files[1].path: "../escape" contains \'..\'',
    'signatures.run.inputs[0].dtype: must be one of', 'signatures.run.outputs[0].shape[0]: must be an integer'];
  for (const e of expect) assert.ok(problems.some((p) => p.startsWith(e)), `missing "${e}" in ${JSON.stringify(problems, null, 1)}`);
});

test('cross-field rules: size adds up, entry is a listed file, no duplicates or file/folder clashes, batchable needs rank', () => {
  assert.ok(problemsOf(() => validateManifest({ ...sample(), size: 1 }))[0]?.startsWith('size: is 1 but the listed files add up to 30'));
  assert.ok(problemsOf(() => validateManifest({ ...sample(), entry: 'other.onnx' }))[0]?.includes('is not one of the listed files'));
  const dup = sample();
  dup.files.push({ ...dup.files[0]! });
  dup.size = 40;
  assert.ok(problemsOf(() => validateManifest(dup)).some((p) => p.includes('listed twice')));
  const clash = sample();
  clash.files.push({ path: 'model.onnx/inner', size: 0, sha256: SHA });
  assert.ok(problemsOf(() => validateManifest(clash)).some((p) => p.includes('also holds')));
  const selfListed = sample();
  selfListed.files.push({ path: 'model.yaml', size: 0, sha256: SHA });
  assert.ok(problemsOf(() => validateManifest(selfListed)).some((p) => p.includes('the manifest itself')));
  const lowRank = sample();
  lowRank.signatures.run!.outputs = [{ name: 'score', dtype: 'float32', shape: [] }];
  assert.ok(problemsOf(() => validateManifest(lowRank)).some((p) => p.includes('too low to batch')));
  lowRank.signatures.run!.batchable = false;
  validateManifest(lowRank);
});

test('a manifest from a newer Tiffin says to upgrade; metadata must be plain data', () => {
  assert.ok(problemsOf(() => validateManifest({ ...sample(), schemaVersion: 2 }))[0]?.includes('upgrade Tiffin'));
  assert.ok(problemsOf(() => validateManifest({ ...sample(), metadata: { when: new Date() } }))[0]?.includes('plain data'));
  assert.ok(problemsOf(() => validateManifest({ ...sample(), metadata: { x: Number.NaN } }))[0]?.includes('finite'));
});
