import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

/** Runs a child that logs `count` lines to stdout through the default destination, then ends as `ending` says. */
function logInChild(count: number, ending: string): { lines: string[]; stderr: string; status: number | null } {
  const script = `
    import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).href)};
    const log = createLogger({ service: 'child' });
    for (let i = 0; i < ${count}; i++) log.info({ i }, 'line');
    ${ending}
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return { lines: r.stdout.split('\n').filter(Boolean), stderr: r.stderr, status: r.status };
}

describe('logger', () => {
  it('stdout keeps every line buffered when the process dies of an uncaught exception or exits at once', () => {
    const crashed = logInChild(500, "setImmediate(() => { throw new Error('boom'); });");
    assert.notEqual(crashed.status, 0);
    assert.match(crashed.stderr, /boom/);
    assert.equal(crashed.lines.length, 500);
    assert.deepEqual(crashed.lines.map((l) => (JSON.parse(l) as { i: number }).i), [...Array(500).keys()]);
    const exited = logInChild(3, 'process.exit(3);');
    assert.equal(exited.status, 3);
    assert.equal(exited.lines.length, 3);
  });


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
