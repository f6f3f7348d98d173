// Tokens with scopes, from the outside: a real serveModels server (HTTP and gRPC) over a store with one ONNX model.
// Management calls need the management scope, inference the inference scope, probes nothing; refusals are 401
// (with WWW-Authenticate) or 403 in the JSON error shape, UNAUTHENTICATED or PERMISSION_DENIED over gRPC, and the
// model keeps serving. A server beyond loopback refuses to start without a management token; on loopback, with no
// tokens, a management call must still be JSON and the Host a loopback name. Readiness follows an unload.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { TokenSet, mintToken, resolveAuth } from '../../src/auth/index.ts';
import { isTiffinError } from '../../src/errors/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const MANAGEMENT = mintToken();
const INFERENCE = mintToken();
const INFER_BODY = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] };

async function storeWithModel() {
  const models = await tempModels();
  await saveOnnx(models, 'lin:1', linearRegression({ weights: [[2], [3]], bias: [1] }));
  await saveOnnx(models, 'other:1', linearRegression({ weights: [[1], [1]], bias: [0] }));
  return models;
}

async function serve(auth = resolveAuth({ tokens: [{ name: 'ops', token: MANAGEMENT, scopes: ['management'] }, { name: 'app', token: INFERENCE, scopes: ['inference'] }] })): Promise<ModelServer> {
  const models = await storeWithModel();
  const server = await serveModels({ store: models.store, models: [{ name: 'lin' }], inProcess: true, pollIntervalMs: 0, http: { port: 0, logLevel: 'silent' }, grpc: { port: 0 }, auth });
  await server.ready;
  return server;
}

async function call(url: string, token?: string, init: RequestInit = {}): Promise<{ status: number; body: { code?: string; message?: string; error?: string }; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body && !headers.has('content-type')) headers.set('content-type', 'application/json');
  const res = await fetch(url, { ...init, headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {}, headers: res.headers };
}

const post = (url: string, token?: string, body: unknown = {}) => call(url, token, { method: 'POST', body: JSON.stringify(body) });

test('HTTP: unload needs the management scope (401 without a token, 403 with an inference one); the model keeps serving', async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const unload = `${server.url}/v2/repository/models/lin/unload`;

  const anonymous = await post(unload);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Bearer realm="tiffin", scope="management"/);
  assert.match(JSON.stringify(anonymous.body), /needs a token/);

  const wrong = await post(unload, mintToken());
  assert.equal(wrong.status, 401);
  assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

  const inferenceOnly = await post(unload, INFERENCE);
  assert.equal(inferenceOnly.status, 403);
  // The V2 routes answer in V2's error shape ({ error }); a service's routes in Tiffin's ({ code, message }).
  assert.match(inferenceOnly.body.error ?? '', /"app" lacks the management scope/);
  assert.doesNotMatch(JSON.stringify(inferenceOnly.body), new RegExp(INFERENCE), 'a token never appears in an answer');

  // Inference: needs the inference scope; the model is still there.
  assert.equal((await post(`${server.url}/v2/models/lin/infer`, undefined, INFER_BODY)).status, 401);
  assert.equal((await post(`${server.url}/v2/models/lin/infer`, MANAGEMENT, INFER_BODY)).status, 403);
  const served = await post(`${server.url}/v2/models/lin/infer`, INFERENCE, INFER_BODY);
  assert.equal(served.status, 200);
  assert.deepEqual((served.body as unknown as { outputs: { data: number[] }[] }).outputs[0]!.data, [6]);

  // Probes stay open.
  for (const probe of ['/livez', '/readyz', '/v2/health/live', '/v2/health/ready', '/v2/models/lin/ready']) {
    assert.equal((await call(server.url + probe)).status, 200, probe);
  }
  // Listing the store is management too.
  assert.equal((await post(`${server.url}/v2/repository/index`, INFERENCE)).status, 403);

  // With the management token the unload goes through, and readiness follows.
  assert.equal((await post(unload, MANAGEMENT)).status, 200);
  assert.equal((await call(`${server.url}/v2/health/ready`)).status, 400, 'a server whose configured model was unloaded is not ready (V2 answers 400)');
  assert.equal((await call(`${server.url}/readyz`)).status, 503);
  assert.equal((await post(`${server.url}/v2/repository/models/lin/load`, MANAGEMENT)).status, 200);
  assert.equal((await call(`${server.url}/v2/health/ready`)).status, 200);
});

test('HTTP: a model the server was not configured with cannot be loaded from the store', async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const res = await post(`${server.url}/v2/repository/models/other/load`, MANAGEMENT);
  assert.equal(res.status, 404);
  assert.match(JSON.stringify(res.body), /not one of the served models/);
  assert.deepEqual(server.repository.names(), ['lin']);
});

function grpcClient(port: number): grpc.Client {
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  return new pkg.inference.GRPCInferenceService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function unary(client: grpc.Client, method: string, request: unknown, token?: string): Promise<{ code: number; details?: string }> {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (err: grpc.ServiceError | null) => void) => void>)[method]!(request, metadata, (err) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK }),
    );
  });
}

test('gRPC: the same scopes through the authorization metadata', async (t) => {
  const server = await serve();
  t.after(() => server.close());
  const client = grpcClient(server.grpc!.port);
  t.after(() => client.close());
  assert.equal((await unary(client, 'RepositoryModelUnload', { model_name: 'lin' })).code, grpc.status.UNAUTHENTICATED);
  const denied = await unary(client, 'RepositoryModelUnload', { model_name: 'lin' }, INFERENCE);
  assert.equal(denied.code, grpc.status.PERMISSION_DENIED);
  assert.match(denied.details ?? '', /lacks the management scope/);
  assert.equal((await unary(client, 'ModelMetadata', { name: 'lin' })).code, grpc.status.UNAUTHENTICATED);
  assert.equal((await unary(client, 'ModelMetadata', { name: 'lin' }, INFERENCE)).code, grpc.status.OK);
  assert.equal((await unary(client, 'ServerReady', {})).code, grpc.status.OK, 'probes stay open');
  assert.equal((await unary(client, 'RepositoryIndex', {}, MANAGEMENT)).code, grpc.status.OK);

  // The streaming RPC checks the token once, when the stream opens.
  const streamed = (token?: string) =>
    new Promise<{ code: number; answers: number }>((resolve) => {
      const metadata = new grpc.Metadata();
      if (token) metadata.set('authorization', `Bearer ${token}`);
      const stream = (client as unknown as { ModelStreamInfer: (m: grpc.Metadata) => grpc.ClientDuplexStream<unknown, unknown> }).ModelStreamInfer(metadata);
      let answers = 0;
      stream.on('data', () => answers++);
      stream.on('error', (err: grpc.ServiceError) => resolve({ code: err.code, answers }));
      stream.on('end', () => resolve({ code: grpc.status.OK, answers }));
      stream.write({ model_name: 'lin', inputs: [] });
      stream.end();
    });
  assert.deepEqual(await streamed(), { code: grpc.status.UNAUTHENTICATED, answers: 0 });
  assert.deepEqual(await streamed(INFERENCE), { code: grpc.status.OK, answers: 1 });
});

test('beyond loopback, a server without a management token refuses to start', async () => {
  const models = await storeWithModel();
  await assert.rejects(
    serveModels({ store: models.store, models: [{ name: 'lin' }], inProcess: true, pollIntervalMs: 0, http: { port: 0, host: '0.0.0.0', logLevel: 'silent' }, grpc: false }),
    (err) => isTiffinError(err, 'CONFIG_INVALID') && /beyond loopback\) needs a management token/.test(err.message) && /tiffin tokens create/.test(err.message),
  );
  // With only an inference token, still not.
  await assert.rejects(
    serveModels({ store: models.store, models: [{ name: 'lin' }], inProcess: true, http: { port: 0, host: '0.0.0.0', logLevel: 'silent' }, grpc: false, auth: resolveAuth({ inferenceToken: INFERENCE }) }),
    (err) => isTiffinError(err, 'CONFIG_INVALID'),
  );
});

test('on loopback with no tokens: management calls must be JSON, and only loopback Host names are answered', async (t) => {
  const server = await serve({ tokens: new TokenSet([]), allowedHosts: ['tiffin.internal'] });
  t.after(() => server.close());
  // What a cross-site form or no-cors fetch can send: text/plain.
  const plain = await call(`${server.url}/v2/repository/models/lin/unload`, undefined, { method: 'POST', body: '{}', headers: { 'content-type': 'text/plain' } });
  assert.equal(plain.status, 415);
  assert.match(JSON.stringify(plain.body), /application\/json/);
  assert.equal(server.repository.readyVersions('lin').length, 1, 'the model was not unloaded');

  // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends its own Host.
  const { request } = await import('node:http');
  const status = (host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/v2/models/lin/infer`, { method: 'POST', headers: { host, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify(INFER_BODY));
    });
  assert.equal(await status('evil.example:3000'), 403);
  assert.equal(await status('tiffin.internal'), 200, 'an allowed host is answered');
  assert.equal(await status('localhost:1234'), 200);
});

test('tokens come from files (a Kubernetes secret) and are never echoed in config errors', async () => {
  const dir = await tempDir('tokens');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, 'ops'), `${MANAGEMENT}\n`);
  await writeFile(join(dir, 'tokens.yaml'), `tokens:\n  - name: app\n    token: ${INFERENCE}\n    scopes: [inference, metrics]\n`);
  const auth = resolveAuth({ tokens: [{ name: 'ops', tokenFile: join(dir, 'ops'), scopes: ['management'] }], tokensFile: join(dir, 'tokens.yaml'), protectMetrics: true });
  assert.equal(auth.tokens.check('management', `Bearer ${MANAGEMENT}`).ok, true);
  assert.equal(auth.tokens.check('metrics', `Bearer ${INFERENCE}`).ok, true);
  assert.equal(auth.tokens.check('metrics', `Bearer ${MANAGEMENT}`).ok, false);
  assert.throws(() => resolveAuth({ protectMetrics: true }), /protectMetrics needs a token with the metrics scope/);

  const { loadConfig } = await import('../../src/config/index.ts');
  const shortToken = 'tiny-secret';
  assert.throws(
    () => loadConfig({ cwd: dir, env: { TIFFIN_MANAGEMENT_TOKEN: shortToken } }),
    (err) => isTiffinError(err, 'CONFIG_INVALID') && /TIFFIN_MANAGEMENT_TOKEN: auth\.managementToken: expected a token of at least 16/.test(err.message) && !err.message.includes(shortToken),
  );
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/tiffin.js');

test('CLI: tiffin tokens create mints a token; tiffin serve --host 0.0.0.0 without one exits with the reason', async () => {
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, [BIN, 'tokens', 'create', '--scope', 'inference,management', '--name', 'ops', '--json']);
  const minted = JSON.parse(stdout) as { token: string; scopes: string[]; name: string };
  assert.match(minted.token, /^tfn_[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(minted.scopes, ['inference', 'management']);
  const text = (await run(process.execPath, [BIN, 'tokens', 'create', '--scope', 'management'])).stdout;
  assert.match(text, /TIFFIN_MANAGEMENT_TOKEN=tfn_/);
  await assert.rejects(run(process.execPath, [BIN, 'tokens', 'create', '--scope', 'admin']), (err: { stderr: string }) => /unknown scope admin; the scopes are inference, management, metrics/.test(err.stderr));

  const models = await storeWithModel();
  const home = join(models.store.root, '..');
  const refused = await run(process.execPath, [BIN, 'serve', '--models', 'lin', '--host', '0.0.0.0', '--port', '0', '--no-grpc'], { env: { ...process.env, TIFFIN_HOME: home }, cwd: home }).then(
    () => assert.fail('tiffin serve started beyond loopback without a management token'),
    (err: { code: number; stderr: string; stdout: string }) => err,
  );
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr + refused.stdout, /CONFIG_INVALID.*needs a management token/);
});
