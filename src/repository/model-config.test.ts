import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { parseModelList, parseModelsSection } from './model-config.ts';
import { parseVersionPolicy, selectVersions } from './version-policy.ts';

test('--models: a bare name serves the newest version, name:version pins one, repeats merge', () => {
  assert.deepEqual(parseModelList('iris, ocr_det:3'), [{ name: 'iris' }, { name: 'ocr_det', versions: { specific: ['3'] } }]);
  assert.deepEqual(parseModelList('m:1,m:2'), [{ name: 'm', versions: { specific: ['1', '2'] } }]);
  assert.throws(() => parseModelList('m,m:2'), /listed twice/);
  assert.throws(() => parseModelList('Bad!'), (e) => isTiffinError(e, 'INVALID_NAME'));
});

test('models: section as a list or a mapping, with version policies, labels and batching', () => {
  const fromList = parseModelsSection([
    'iris',
    'ocr_det:3',
    { name: 'resnet', versions: 'all', labels: { stable: 3, canary: '4' }, batching: { maxBatchSize: 16, maxLatencyMs: 5 } },
    { name: 'bert', versions: { latest: 2 } },
    { name: 'gpt', versions: 'latest:3' },
    { name: 'old', versions: { specific: [1, '2'] } },
  ]);
  assert.deepEqual(fromList, [
    { name: 'iris' },
    { name: 'ocr_det', versions: { specific: ['3'] } },
    { name: 'resnet', versions: 'all', labels: { stable: '3', canary: '4' }, batching: { maxBatchSize: 16, maxLatencyMs: 5 } },
    { name: 'bert', versions: { latest: 2 } },
    { name: 'gpt', versions: { latest: 3 } },
    { name: 'old', versions: { specific: ['1', '2'] } },
  ]);
  assert.deepEqual(parseModelsSection({ iris: null, bert: { versions: 'all' } }), [{ name: 'iris' }, { name: 'bert', versions: 'all' }]);
  assert.throws(() => parseModelsSection([{ name: 'x', versions: { latest: 0 } }]), (e) => isTiffinError(e, 'CONFIG_INVALID') && /models\[0\]/.test(e.message));
  assert.throws(() => parseModelsSection([{ name: 'x', batching: { maxBatch: 3 } }]), (e) => isTiffinError(e, 'CONFIG_INVALID'));
  assert.deepEqual(parseModelsSection('iris, bert:2'), [{ name: 'iris' }, { name: 'bert', versions: { specific: ['2'] } }], 'a comma-separated string, as from TIFFIN_MODELS');
  assert.throws(() => parseModelsSection(42), (e) => isTiffinError(e, 'CONFIG_INVALID'));
  assert.throws(() => parseModelsSection(['Bad Name']), (e) => isTiffinError(e, 'CONFIG_INVALID') && /Invalid model name/.test(e.message));
});

test('version policy text forms and selection', () => {
  assert.deepEqual(parseVersionPolicy('latest'), { latest: 1 });
  assert.deepEqual(parseVersionPolicy('latest:2'), { latest: 2 });
  assert.equal(parseVersionPolicy('all'), 'all');
  assert.deepEqual(parseVersionPolicy('specific:1,3'), { specific: ['1', '3'] });
  assert.throws(() => parseVersionPolicy('newest'), /unknown version policy/);
  assert.deepEqual(selectVersions({ latest: 2 }, ['3', '2', '1']), ['3', '2']);
  assert.deepEqual(selectVersions({ specific: ['1', '9'] }, ['3', '2', '1']), ['1']);
  assert.deepEqual(selectVersions('all', ['3', '2', '1']), ['3', '2', '1']);
});
