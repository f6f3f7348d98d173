import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { accessLogWriter, type AccessLogLine } from './access-log.ts';
import { createLogger } from './logger.ts';

function capture(): Writable & { lines: string[] } {
  const lines: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return Object.assign(w, { lines });
}

const line: AccessLogLine = {
  method: 'POST',
  path: '/v2/models/ir"is/infer',
  route: '/v2/models/:name/infer\u0001', // each special character alone in a value: a control character,
  status: 200,
  latencyMs: 3.25,
  bytes: 154,
  requestId: 'req-"1"\n',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  variant: 'b\\c', // a backslash, a quote (path) and a newline (requestId)
  model: undefined,
};

describe('access log', () => {
  it('writes, for Tiffin\'s JSON loggers, exactly the line pino would write', () => {
    const fastOut = capture();
    const pinoOut = capture();
    const fast = createLogger({ service: 'iris', version: '1.0.0', destination: fastOut });
    const viaPino = createLogger({ service: 'iris', version: '1.0.0', destination: pinoOut });
    for (const status of [200, 503]) {
      accessLogWriter(fast)({ ...line, status });
      const { model: _skip, ...fields } = { ...line, status };
      if (status >= 500) viaPino.error(fields, 'request');
      else viaPino.info(fields, 'request');
    }
    const strip = (l: string) => {
      const o = JSON.parse(l) as Record<string, unknown>;
      assert.match(String(o.time), /^\d{4}-\d\d-\d\dT/);
      delete o.time;
      return o;
    };
    assert.deepEqual(fastOut.lines.map(strip), pinoOut.lines.map(strip));
    assert.deepEqual(Object.keys(JSON.parse(fastOut.lines[0]!)), Object.keys(JSON.parse(pinoOut.lines[0]!)), 'same field order');
    assert.equal(JSON.parse(fastOut.lines[1]!).level, 'error');
  });

  it('honours the level, also when it changes while the server runs', () => {
    const out = capture();
    const log = createLogger({ level: 'warn', destination: out });
    const write = accessLogWriter(log);
    write(line);
    write({ ...line, status: 500 });
    assert.equal(out.lines.length, 1, '5xx only, at warn');
    log.level = 'info';
    write(line);
    assert.equal(out.lines.length, 2);
  });

  it('goes through pino for other loggers', () => {
    const out = capture();
    accessLogWriter(pino({ base: null }, out))(line);
    const o = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    assert.equal(o.msg, 'request');
    assert.equal(o.requestId, line.requestId);
    assert.equal(o.level, 30);
    assert.equal('model' in o, false);
  });
});
