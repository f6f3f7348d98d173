// The configuration side of zero-code serving: `models:`, `protocols:` and `repository:` in tiffin.yaml,
// TIFFIN_* variables and flags, and the serveModels options they turn into.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { isTiffinError } from '../errors/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { serveModelsOptions, wantsModelServer } from './from-config.ts';

const YAML = `
models:
  - iris
  - ocr_det:3
  - name: resnet
    versions: { latest: 2 }
    labels: { stable: "7", canary: "8" }
    batching: { maxBatchSize: 16, maxLatencyMs: 4 }
protocols:
  rest: [kserve-v2, tfserving]
  grpc: { port: 9001 }
repository:
  pollInterval: 500ms
  strictReadiness: false
`;

test('models:, protocols: and repository: in tiffin.yaml become serveModels options', async () => {
  const cwd = await tempDir('config');
  await writeFile(join(cwd, 'tiffin.yaml'), YAML);
  const config = loadConfig({ cwd, env: {} });
  assert.deepEqual(config.models, [
    { name: 'iris' },
    { name: 'ocr_det', versions: { specific: ['3'] } },
    { name: 'resnet', versions: { latest: 2 }, labels: { stable: '7', canary: '8' }, batching: { maxBatchSize: 16, maxLatencyMs: 4 } },
  ]);
  assert.ok(wantsModelServer(config));
  const options = serveModelsOptions(config);
  assert.deepEqual(options.protocols, ['kserve-v2', 'tfserving']);
  assert.deepEqual(options.grpc, { port: 9001 });
  assert.equal(options.pollIntervalMs, 500);
  assert.equal(options.strictReadiness, false);
  assert.equal(options.http?.port, 3000);
});

test('TIFFIN_MODELS and --models (a comma list) override the file; --no-grpc turns gRPC off', async () => {
  const cwd = await tempDir('config');
  await writeFile(join(cwd, 'tiffin.yaml'), YAML);
  const fromEnv = loadConfig({ cwd, env: { TIFFIN_MODELS: 'a,b:2', TIFFIN_GRPC_PORT: '7001' } });
  assert.deepEqual(fromEnv.models, [{ name: 'a' }, { name: 'b', versions: { specific: ['2'] } }]);
  assert.equal(fromEnv.protocols.grpc.port, 7001);
  const fromFlags = loadConfig({ cwd, env: { TIFFIN_MODELS: 'a' }, overrides: [{ key: 'models', value: 'z', source: '--models' }, { key: 'protocols.grpc.enabled', value: false, source: '--no-grpc' }] });
  assert.deepEqual(fromFlags.models, [{ name: 'z' }]);
  assert.equal(serveModelsOptions(fromFlags).grpc, false);
  const defaults = loadConfig({ cwd: await tempDir('config'), env: {} });
  assert.deepEqual(defaults.models, []);
  assert.deepEqual(defaults.protocols, { rest: ['kserve-v2', 'tfserving', 'torchserve'], grpc: { enabled: true, port: 8001, host: undefined } });
  assert.equal(wantsModelServer(defaults), false);
});

test('bad model entries are configuration errors that say where they came from', async () => {
  const cwd = await tempDir('config');
  await writeFile(join(cwd, 'tiffin.yaml'), 'models:\n  - name: x\n    versions: { latest: 0 }\n');
  assert.throws(() => loadConfig({ cwd, env: {} }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /tiffin\.yaml/.test(e.message) && /models/.test(e.message));
  const empty = await tempDir('config');
  assert.throws(() => loadConfig({ cwd: empty, env: { TIFFIN_MODELS: 'Not Valid' } }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /TIFFIN_MODELS/.test(e.message));
  assert.throws(() => loadConfig({ cwd: empty, env: { TIFFIN_PROTOCOLS: 'kserve-v2,soap' } }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /TIFFIN_PROTOCOLS/.test(e.message));
});
