// Configuration: tiffin.yaml + TIFFIN_* + flags with their precedence, units, and CONFIG_INVALID errors that
// name the key, its source (file, variable or flag) and what is allowed.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { DEFAULT_LIMITS } from '../limits/index.ts';
import { loadConfig } from './load.ts';
import { parseDuration, parseSize } from '../units/index.ts';

async function dirWith(t: TestContext, yaml?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  if (yaml !== undefined) await writeFile(join(dir, 'tiffin.yaml'), yaml);
  return dir;
}

function configError(fn: () => unknown): { message: string; issues: { source: string; key: string; message: string }[] } {
  try {
    fn();
  } catch (err) {
    assert.ok(isTiffinError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    const details = err.details as { issues?: { source: string; key: string; message: string }[] } | undefined;
    return { message: err.message, issues: details?.issues ?? [] };
  }
  throw new Error('expected a CONFIG_INVALID error');
}

test('defaults apply when nothing is configured', async (t) => {
  const config = loadConfig({ cwd: await dirWith(t), env: {} });
  assert.equal(config.file, undefined);
  assert.deepEqual(config.server, {
    port: 3000, host: '127.0.0.1', maxBodySize: 32 * 1024 * 1024, shutdownGraceMs: 30_000,
    headersTimeoutMs: 10_000, requestTimeoutMs: 120_000, keepAliveTimeoutMs: 72_000, maxConnections: 10_000, maxHeaderSize: 16 * 1024, apiTimeoutMs: 60_000, tls: undefined,
    development: false, docs: true, cors: false,
  });
  assert.deepEqual(config.logging, { level: 'info', format: 'json' });
  assert.deepEqual(config.limits, DEFAULT_LIMITS);
});

test('timeouts, the connection cap and TLS paths from tiffin.yaml and TIFFIN_* (paths relative to where they came from)', async (t) => {
  const cwd = await dirWith(t, 'server:\n  headersTimeout: 5s\n  apiTimeout: 2s\n  maxConnections: 100\n  tls: { cert: certs/a.crt }\n');
  const config = loadConfig({ cwd, env: { TIFFIN_REQUEST_TIMEOUT: '30s', TIFFIN_TLS_KEY: 'certs/a.key' } });
  assert.equal(config.server.headersTimeoutMs, 5000);
  assert.equal(config.server.apiTimeoutMs, 2000);
  assert.equal(config.server.requestTimeoutMs, 30_000);
  assert.equal(config.server.maxConnections, 100);
  assert.deepEqual(config.server.tls, { cert: join(cwd, 'certs/a.crt'), key: join(cwd, 'certs/a.key') });
  assert.throws(() => loadConfig({ cwd, env: { TIFFIN_MAX_CONNECTIONS: '0' } }), /TIFFIN_MAX_CONNECTIONS/);
});

test('request limits from tiffin.yaml and TIFFIN_*, in units; the rest keep their defaults; bad values name the key', async (t) => {
  const cwd = await dirWith(t, 'server:\n  maxHeaderSize: 8KiB\nlimits:\n  maxTensorElements: 1000\n  maxStringBytes: 1MiB\n');
  const config = loadConfig({ cwd, env: { TIFFIN_MAX_JSON_DEPTH: '16', TIFFIN_MAX_PART_SIZE: '2MiB' } });
  assert.equal(config.server.maxHeaderSize, 8192);
  assert.deepEqual(config.limits, { ...DEFAULT_LIMITS, maxTensorElements: 1000, maxStringBytes: 1024 * 1024, maxJsonDepth: 16, maxPartSize: 2 * 1024 * 1024 });
  const bad = configError(() => loadConfig({ cwd, env: { TIFFIN_MAX_INPUTS: '0' } }));
  assert.match(bad.message, /TIFFIN_MAX_INPUTS: limits\.maxInputs: expected a whole number from 1/);
  const unknown = configError(() => loadConfig({ cwd: cwd, env: {}, overrides: [{ key: 'limits.maxRows', value: 3, source: '--x' }] }));
  assert.match(unknown.message, /unknown key "limits\.maxRows" \(limits takes maxInputs, maxOutputs/);
});

test('flags win over env, env over tiffin.yaml, the file over defaults', async (t) => {
  const cwd = await dirWith(t, 'service: ./svc.ts\nserver:\n  port: 4000\n  host: 0.0.0.0\n  maxBodySize: 2MiB\n  shutdownGraceMs: 5s\nlogging:\n  level: debug\n');
  const config = loadConfig({
    cwd,
    env: { TIFFIN_PORT: '5000', TIFFIN_MAX_BODY_SIZE: '1kb', TIFFIN_DEVELOPMENT: 'yes' },
    overrides: [{ key: 'server.port', value: '6000', source: '--port' }],
  });
  assert.equal(config.file, join(cwd, 'tiffin.yaml'));
  assert.equal(config.service, join(cwd, 'svc.ts'), 'service paths are relative to the config file');
  assert.equal(config.server.port, 6000);
  assert.equal(config.server.host, '0.0.0.0');
  assert.equal(config.server.maxBodySize, 1000);
  assert.equal(config.server.shutdownGraceMs, 5000);
  assert.equal(config.server.development, true);
  assert.equal(config.logging.level, 'debug');
});

test('CORS from env: a list of origins, or *; credentials cannot go with *', async (t) => {
  const cwd = await dirWith(t);
  assert.deepEqual(loadConfig({ cwd, env: { TIFFIN_CORS_ORIGINS: 'https://a.example, https://b.example' } }).server.cors, {
    origins: ['https://a.example', 'https://b.example'],
    credentials: false,
  });
  assert.deepEqual(loadConfig({ cwd, env: { TIFFIN_CORS_ORIGINS: '*' } }).server.cors, { origins: '*', credentials: false });
  const err = configError(() => loadConfig({ cwd, env: { TIFFIN_CORS_ORIGINS: '*', TIFFIN_CORS_CREDENTIALS: 'true' } }));
  assert.match(err.message, /credentials cannot be combined with origins "\*"/);
});

test('tiffin.yaml errors name the file, the key, the value and what is allowed; all at once', async (t) => {
  const cwd = await dirWith(t, 'server:\n  port: -1\n  maxBodySize: huge\n  cors:\n    origin: x\nlogging:\n  level: loud\nextra: 1\n');
  const err = configError(() => loadConfig({ cwd, env: {} }));
  assert.ok(err.issues.every((i) => i.source === 'tiffin.yaml'), 'every issue names the file');
  assert.deepEqual(err.issues.map((i) => i.key).sort(), ['extra', 'logging.level', 'server.cors.origin', 'server.maxBodySize', 'server.port']);
  assert.match(err.message, /tiffin\.yaml: server\.port: expected an integer from 0 to 65535 \(got -1\)/);
  assert.match(err.message, /server\.maxBodySize: expected a size in bytes, or with a unit such as 512KiB, 32MiB, 1GiB \(got "huge"\)/);
  assert.match(err.message, /unknown key "server\.cors\.origin" \(server\.cors takes origins, credentials\)/);
  assert.match(err.message, /logging\.level: expected one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/);
  assert.match(err.message, /unknown key "extra" \(known keys: service, server, logging/);
});

test('env and flag errors name the variable or flag', async (t) => {
  const cwd = await dirWith(t);
  let err = configError(() => loadConfig({ cwd, env: { TIFFIN_PORT: 'eighty', TIFFIN_SHUTDOWN_GRACE_MS: 'soon' } }));
  assert.match(err.message, /TIFFIN_PORT: server\.port: expected an integer from 0 to 65535 \(got "eighty"\)/);
  assert.match(err.message, /TIFFIN_SHUTDOWN_GRACE_MS: server\.shutdownGraceMs: expected milliseconds, or a duration such as 500ms, 30s, 2m/);
  err = configError(() => loadConfig({ cwd, env: {}, overrides: [{ key: 'server.host', value: '', source: '--host' }] }));
  assert.equal(err.issues[0]?.source, '--host');
});

test('a config file that is not YAML, not a mapping, or missing is reported', async (t) => {
  let cwd = await dirWith(t, 'server: [unclosed\n');
  assert.match(configError(() => loadConfig({ cwd, env: {} })).message, /tiffin\.yaml is not valid YAML/);
  cwd = await dirWith(t, '- a\n- b\n');
  assert.match(configError(() => loadConfig({ cwd, env: {} })).message, /must hold a mapping of keys .* not a list/);
  assert.match(configError(() => loadConfig({ cwd, env: {}, file: 'nope.yaml' })).message, /config file nope\.yaml does not exist/);
});

test('sizes and durations read the units people write', () => {
  assert.equal(parseSize('32MiB'), 32 * 1024 * 1024);
  assert.equal(parseSize('10 mb'), 10_000_000);
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('1.5KiB'), 1536);
  assert.equal(parseSize('lots'), undefined);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.equal(parseDuration('1 fortnight'), undefined);
});
