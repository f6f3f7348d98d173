// tiffin.yaml's traffic: section reaches serveModels' options; a bad route fails at load naming its key.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { serveModelsOptions } from '../serving/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { loadConfig } from './load.ts';

test('the traffic section: routes, state folder and shadow bound reach serveModels; typos fail', async () => {
  const cwd = await tempDir('traffic-config');
  await writeFile(join(cwd, 'tiffin.yaml'), [
    'models: [iris]',
    'traffic:',
    '  stateDir: ./state',
    '  shadowMaxInFlight: 2',
    '  routes:',
    '    iris:',
    '      variants: { "1": 90, "2": 10 }',
    '      sticky: x-user-id',
    '      shadow: { version: "3", rate: 0.1 }',
    '',
  ].join('\n'));
  const config = loadConfig({ cwd, env: {} });
  assert.deepEqual(config.traffic?.routes?.iris, { variants: { '1': 90, '2': 10 }, sticky: 'x-user-id', shadow: { version: '3', rate: 0.1 } });
  const options = serveModelsOptions(config);
  assert.ok(options.traffic && options.traffic.shadowMaxInFlight === 2 && typeof options.traffic.stateDir === 'string');
  assert.ok(options.traffic.routes?.iris);

  await writeFile(join(cwd, 'tiffin.yaml'), 'traffic:\n  routes:\n    iris:\n      variant: { "1": 100 }\n');
  assert.throws(() => loadConfig({ cwd, env: {} }), /traffic/);
  assert.equal(loadConfig({ cwd: await tempDir('traffic-none'), env: {} }).traffic, undefined);
});
