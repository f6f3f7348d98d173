import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import Fastify from 'fastify';
import { loadConfig } from '../config/index.ts';
import { isTiffinError } from '../errors/index.ts';
import { parseExposition, sampleValue } from './metrics/exposition.ts';
import { requestTelemetry } from './http-telemetry.ts';
import { DEFAULT_TELEMETRY_CONFIG, resolveTelemetryConfig } from './config.ts';
import { Telemetry } from './telemetry.ts';
import { NO_REQUEST_TRACE } from './tracing/tracing.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function lines(): Writable & { json(): Record<string, unknown>[] } {
  const out: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      out.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return Object.assign(w, { json: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) });
}

describe('Telemetry from config', () => {
  it('serves metrics at the configured path, honours the quiet list, and gives handlers metrics and monitors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiffin-telemetry-'));
    dirs.push(dir);
    const log = lines();
    const telemetry = new Telemetry({
      service: 'iris',
      version: '2.0.0',
      logDestination: log,
      config: {
        metrics: { path: '/internal/metrics', process: false, gpu: false, buckets: { httpDurationSeconds: [0.5, 1] } },
        logging: { quietPaths: ['/ping'] },
        monitoring: { dir, sampleRate: 1 },
      },
    });
    const app = Fastify();
    telemetry.registerHttp(app);
    app.get('/ping', async () => 'pong');
    app.post('/classify', async (request) => {
      const tel = telemetry.forHandler(request.id, requestTelemetry(request)!.trace);
      tel.metrics.counter('classified', 'Flowers classified.', { labelNames: ['species'] }).inc({ species: 'setosa' });
      tel.monitor('iris').features({ petal: 1.4 }).log('species', 'setosa', 'prediction');
      tel.end();
      return { species: 'setosa' };
    });
    await app.ready();
    assert.equal((await app.inject({ method: 'GET', url: '/ping' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'POST', url: '/classify', headers: { 'x-request-id': 'r1' } })).statusCode, 200);
    const scrape = await app.inject({ method: 'GET', url: '/internal/metrics' });
    assert.equal(scrape.statusCode, 200);
    const exp = parseExposition(scrape.body);
    assert.equal(sampleValue(exp, 'classified_total', { species: 'setosa' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_request_duration_seconds_bucket', { route: '/classify', le: '0.5' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_monitor_records_total', { stream: 'iris', outcome: 'kept' }), 1);
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404, 'only the configured path');

    const access = log.json().filter((l) => l.msg === 'request');
    // /ping is quiet (configured), so is the configured metrics path; /metrics is an ordinary 404 here.
    assert.deepEqual(access.map((l) => `${l.status} ${l.path}`), ['200 /classify', '404 /metrics']);
    assert.equal(access[0]!.service, 'iris');
    assert.equal(access[0]!.version, '2.0.0');

    await telemetry.close();
    const rows = (await readFile(join(dir, 'iris', 'data.1.jsonl'), 'utf8')).trim().split('\n');
    assert.equal(rows.length, 1);
    assert.deepEqual(JSON.parse(rows[0]!).species, 'setosa');
    await app.close();
  });

  it('with metrics and access log off, records nothing and still gives handlers working metrics and monitors', async () => {
    const log = lines();
    const telemetry = new Telemetry({ logDestination: log, config: { metrics: { enabled: false }, logging: { accessLog: false } } });
    assert.equal(telemetry.metrics, undefined);
    const app = Fastify();
    telemetry.registerHttp(app);
    app.get('/x', async () => 'x');
    await app.ready();
    await app.inject({ method: 'GET', url: '/x' });
    assert.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
    assert.equal(log.json().length, 0);
    const tel = telemetry.forHandler('r', NO_REQUEST_TRACE);
    tel.metrics.counter('c', 'C.').inc();
    tel.monitor('m').features({ a: 1 });
    tel.end();
    assert.equal(tel.traceId, undefined);
    await telemetry.close();
    await app.close();
  });

  it('rejects invalid configuration with CONFIG_INVALID naming the key', () => {
    const invalid = (key: string) => (e: unknown) => isTiffinError(e, 'CONFIG_INVALID') && (e as Error).message.includes(key);
    assert.throws(() => new Telemetry({ config: { monitoring: { sampleRate: 2 } } }), invalid('monitoring.sampleRate'));
    assert.throws(() => new Telemetry({ config: { logging: { level: 'loud' as 'info' } } }), invalid('logging.level'));
    assert.throws(() => new Telemetry({ config: { metrics: { buckets: { batchSize: [4, 2] } } } }), invalid('metrics.buckets.batchSize'));
    assert.throws(() => new Telemetry({ config: { metrics: { colour: 'red' } as never } }), invalid('colour'));
  });

  it('takes the strings of environment variables', () => {
    const config = resolveTelemetryConfig({
      metrics: { enabled: 'false' as never, gpu: 'auto', buckets: { batchSize: '1,4,16' as never } },
      logging: { accessLog: 'off' as never, quietPaths: '/livez,/v2/health/*' as never },
      monitoring: { dir: '/tmp/m', sampleRate: '0.25' as never, maxFileBytes: '8MiB' as never, maxFiles: '3' as never },
    });
    assert.equal(config.metrics.enabled, false);
    assert.deepEqual(config.metrics.buckets.batchSize, [1, 4, 16]);
    assert.equal(config.logging.accessLog, false);
    assert.deepEqual(config.logging.quietPaths, ['/livez', '/v2/health/*']);
    assert.deepEqual(config.monitoring, { dir: '/tmp/m', sampleRate: 0.25, maxFileBytes: 8 * 2 ** 20, maxFiles: 3 });
    assert.deepEqual(resolveTelemetryConfig(), DEFAULT_TELEMETRY_CONFIG);
  });
});

describe('telemetry keys in tiffin.yaml and TIFFIN_* variables', () => {
  it('are read by the config loader, validated there, and resolved by Telemetry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiffin-telemetry-config-'));
    dirs.push(dir);
    await writeFile(
      join(dir, 'tiffin.yaml'),
      ['metrics:', '  path: /prom', '  buckets:', '    batchSize: [1, 8, 64]', 'logging:', '  quietPaths: [/ping]', 'tracing:', '  maxTracesPerSecond: 5', 'monitoring:', '  dir: ./mon', ''].join('\n'),
    );
    const config = loadConfig({ cwd: dir, env: { TIFFIN_ACCESS_LOG: 'false', TIFFIN_MONITORING_SAMPLE_RATE: '0.5' } });
    const resolved = resolveTelemetryConfig(config.telemetry);
    assert.equal(resolved.metrics.path, '/prom');
    assert.deepEqual(resolved.metrics.buckets.batchSize, [1, 8, 64]);
    assert.deepEqual(resolved.logging.quietPaths, ['/ping']);
    assert.equal(resolved.logging.accessLog, false);
    assert.equal(resolved.tracing.maxTracesPerSecond, 5);
    assert.deepEqual([resolved.monitoring.dir, resolved.monitoring.sampleRate], ['./mon', 0.5]);

    await writeFile(join(dir, 'tiffin.yaml'), 'metrics:\n  pth: /x\n');
    assert.throws(() => loadConfig({ cwd: dir, env: {} }), (e) => isTiffinError(e, 'CONFIG_INVALID') && /metrics\.pth/.test((e as Error).message));
  });
});
