// TLS from the outside: a self-signed certificate made at run time with openssl, a real serveModels server on
// https and grpcs with it, called by clients that trust only that certificate. Rotating the files (and SIGHUP)
// hands new connections the new certificate without a restart, while a broken rotation keeps the old one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/index.ts';
import { isTiffinError } from '../../src/errors/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { serveModels } from '../../src/serving/index.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

/** A self-signed certificate for 127.0.0.1 and localhost, written to `dir` as `name`.crt and `name`.key. */
function makeCert(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', `/CN=tiffin-test-${name}`, '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

function httpsJson(url: string, ca: Buffer, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, method: body ? 'POST' : 'GET', headers: body ? { 'content-type': 'application/json' } : {}, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, json: text ? JSON.parse(text) : {} }));
    });
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** The certificate a new TLS connection to `port` is given. */
function peerCert(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;

function grpcInfer(port: number, ca: Buffer): Promise<unknown> {
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`localhost:${port}`, grpc.credentials.createSsl(ca));
  const request = { model_name: 'lin', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 1] } }] };
  return new Promise((resolve, reject) => {
    (client as unknown as Record<string, (r: unknown, o: object, cb: (e: Error | null, r: unknown) => void) => void>).ModelInfer!(request, { deadline: Date.now() + 5000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res);
    });
  });
}

test('https and grpcs with a certificate from config; rotated files and SIGHUP reach new connections', async (t) => {
  const dir = await tempDir('tls');
  const first = makeCert(dir, 'first');
  const second = makeCert(dir, 'second');
  const live = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  copyFileSync(first.cert, live.cert);
  copyFileSync(first.key, live.key);

  // From tiffin.yaml, with paths relative to the file.
  writeFileSync(join(dir, 'tiffin.yaml'), 'server:\n  tls:\n    cert: tls.crt\n    key: tls.key\n');
  const config = loadConfig({ cwd: dir, env: {} });
  assert.deepEqual(config.server.tls, live);

  const models = await tempModels();
  await saveOnnx(models, 'lin:1', linearRegression({ weights: [[2], [3]], bias: [1] }));
  const server = await serveModels({
    store: models.store, models: [{ name: 'lin' }], inProcess: true, pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', tls: config.server.tls! }, grpc: { port: 0 },
  });
  t.after(() => server.close());
  await server.ready;
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const ca1 = readFileSync(first.cert);
  const infer = await httpsJson(`${server.url}/v2/models/lin/infer`, ca1, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] });
  assert.equal(infer.status, 200);
  assert.deepEqual((infer.json.outputs as { data: number[] }[])[0]!.data, [6]);
  await assert.rejects(fetch(server.url.replace('https', 'http') + '/livez'), 'plain HTTP is not answered');
  const grpcAnswer = (await grpcInfer(server.grpc!.port, ca1)) as { model_name: string };
  assert.equal(grpcAnswer.model_name, 'lin');

  // A broken rotation (a key that does not match the certificate): the old certificate stays in use.
  copyFileSync(second.cert, live.cert);
  process.emit('SIGHUP');
  assert.equal((await peerCert(server.http.port)).fingerprint256, fingerprint(first.cert));
  assert.equal((await httpsJson(`${server.url}/livez`, ca1)).status, 200);

  // The complete rotation: new connections get the new certificate over HTTPS at once, over gRPC once grpc-js's
  // watcher has seen the files (it polls every 5 s).
  copyFileSync(second.key, live.key);
  process.emit('SIGHUP');
  assert.equal((await peerCert(server.http.port)).fingerprint256, fingerprint(second.cert));
  const ca2 = readFileSync(second.cert);
  assert.equal((await httpsJson(`${server.url}/livez`, ca2)).status, 200);
  await assert.rejects(httpsJson(`${server.url}/livez`, ca1), /self[- ]signed|unable to verify|certificate/i);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await grpcInfer(server.grpc!.port, ca2);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
});

test('a TLS setting with only one of cert and key, or an unreadable file, is refused naming it', async () => {
  const dir = await tempDir('tls');
  assert.throws(() => loadConfig({ cwd: dir, env: { TIFFIN_TLS_CERT: 'x.crt' } }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /server\.tls\.key \(TIFFIN_TLS_KEY\) is missing/.test(e.message));
  const models = await tempModels();
  await assert.rejects(
    serveModels({ store: models.store, models: [], inProcess: true, http: { port: 0, logLevel: 'silent', tls: { cert: join(dir, 'none.crt'), key: join(dir, 'none.key') } }, grpc: false }),
    (e) => isTiffinError(e, 'CONFIG_INVALID') && /cannot read the TLS certificate .*none\.crt/.test(e.message),
  );
});
