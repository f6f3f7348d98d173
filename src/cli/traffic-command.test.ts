// `tiffin traffic` against a real server: set, show, shadow, promote, rollback, and a refused token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mintToken, resolveAuth } from '../auth/index.ts';
import { linearRegression } from '../onnx/index.ts';
import { serveModels } from '../serving/index.ts';
import { saveOnnx, tempModels } from '../testing/protocol-serving.ts';
import { parseWeights, trafficCommand } from './traffic-command.ts';

test('tiffin traffic set/show/shadow/promote/rollback drive the management API, with the management token', async () => {
  const models = await tempModels();
  for (const v of [1, 2]) await saveOnnx(models, `m:${v}`, linearRegression({ weights: [[v]], bias: [0] }));
  const token = mintToken();
  const server = await serveModels({
    models: [{ name: 'm' }], store: models.store, inProcess: true, pollIntervalMs: 0, grpc: false,
    http: { port: 0, logLevel: 'silent', docs: false },
    auth: resolveAuth({ tokens: [{ name: 'ops', token, scopes: ['management'] }] }),
    traffic: { stateDir: false },
  });
  const lines: string[] = [];
  const run = async (...args: string[]) => {
    lines.length = 0;
    await trafficCommand((l) => lines.push(l)).parseAsync([...args, '--url', server.url, '--token', token], { from: 'user' });
    return lines.join('\n');
  };
  try {
    await server.ready;
    assert.match(await run('show'), /no traffic routes/);
    assert.match(await run('set', 'm', '1=90', '2=10', '--sticky', 'x-user-id', '--reason', 'canary'), /m: 1=90 2=10, sticky x-user-id/);
    assert.match(await run('shadow', 'm', '2', '--rate', '0.5'), /shadow 2@0.5/);
    assert.match(await run('promote', 'm', '2'), /m: 2=100, sticky x-user-id/);
    const rolled = await run('rollback', 'm');
    assert.match(rolled, /m: 1=90 2=10, sticky x-user-id, shadow 2@0.5/);
    assert.match(rolled, /rollback/);
    assert.match(await run('show', 'm'), /changes:[\s\S]*set[\s\S]*canary[\s\S]*promote/);
    assert.match(await run('show'), /MODEL\s+ROUTE\n.*m\s+1=90 2=10/);
    const rollout = await run('rollout', 'm', '2', '--baseline', '1', '--steps', '10,100', '--interval', '1m');
    assert.match(rollout, /m: 1=90 2=10, sticky x-user-id/);
    assert.match(rollout, /rollout 2 over 1: running, step 1\/2 \(10, 100%\)/);
    // A sticky field (for ctx.models calls) beside the header, and a bandit strategy with its arms shown.
    assert.match(await run('set', 'm', '1=50', '2=50', '--sticky-field', 'userId', '--sticky', 'x-user-id'), /m: 1=50 2=50, sticky field userId, sticky x-user-id\n/);
    const greedy = await run('set', 'm', '1=1', '2=1', '--strategy', 'epsilon-greedy', '--epsilon', '0.2', '--no-sticky');
    assert.match(greedy, /m: 1=1 2=1, epsilon-greedy 0.2\n/);
    assert.match(greedy, /arms: 1 pulls 0, rewards 0.0, mean 0.500; 2 pulls 0/);

    // A wrong token: the server's 401 becomes an error line and exit code 2.
    const stderr: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (stderr.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await trafficCommand(() => {}).parseAsync(['show', '--url', server.url, '--token', mintToken()], { from: 'user' });
    } finally {
      process.stderr.write = write;
    }
    assert.match(stderr.join(''), /error \[UNAUTHENTICATED\]/);
    assert.equal(process.exitCode, 2);
    process.exitCode = 0;
    assert.throws(() => parseWeights(['1:90']), /version=weight/);
  } finally {
    await server.close();
  }
});
