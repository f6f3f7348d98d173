import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { isTiffinError } from '../../errors/index.ts';
import { createLogger, type LogLevel } from './logger.ts';

/** A destination that keeps what pino writes, line by line. */
function captureLines(): Writable & { lines: string[]; json(): Record<string, unknown>[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return Object.assign(stream, { lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) });
}

describe('logger', () => {
  it('writes one JSON object per line with level word, ISO time, service and version', () => {
    const out = captureLines();
    const log = createLogger({ service: 'iris', version: '1.2.0', destination: out });
    log.info({ model: 'iris' }, 'loaded');
    const [line] = out.json();
    assert.equal(line!.level, 'info');
    assert.equal(line!.msg, 'loaded');
    assert.equal(line!.service, 'iris');
    assert.equal(line!.version, '1.2.0');
    assert.equal(line!.model, 'iris');
    assert.equal(line!.pid, process.pid);
    assert.ok(!Number.isNaN(Date.parse(String(line!.time))) && String(line!.time).endsWith('Z'));
  });

  it('drops lines below the configured level', () => {
    const out = captureLines();
    const log = createLogger({ level: 'warn', destination: out });
    log.info('hidden');
    log.debug('hidden');
    log.warn('shown');
    assert.deepEqual(out.json().map((l) => l.msg), ['shown']);
  });

  it('pretty format prints readable lines instead of JSON', () => {
    const out = captureLines();
    const log = createLogger({ format: 'pretty', destination: out, service: 'iris' });
    log.info({ model: 'iris' }, 'model loaded');
    const text = out.lines.join('\n');
    assert.match(text, /INFO/);
    assert.match(text, /model loaded/);
    assert.doesNotMatch(text, /^\{/);
    assert.doesNotMatch(text, /\u001b\[/, 'no colours when not writing to a terminal');
  });

  it('rejects unknown levels and formats with CONFIG_INVALID', () => {
    assert.throws(() => createLogger({ level: 'loud' as LogLevel }), (e) => isTiffinError(e, 'CONFIG_INVALID'));
    assert.throws(() => createLogger({ format: 'xml' as 'json' }), (e) => isTiffinError(e, 'CONFIG_INVALID'));
  });
});
