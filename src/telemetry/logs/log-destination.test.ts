import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LogDestination } from './log-destination.ts';

const dir = mkdtempSync(join(tmpdir(), 'tiffin-logdest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function target(): { file: string; fd: number } {
  const file = join(dir, `log-${++n}`);
  return { file, fd: openSync(file, 'w') };
}

const flushed = (d: LogDestination) => new Promise<void>((resolve, reject) => d.flush((err) => (err ? reject(err) : resolve())));

describe('LogDestination', () => {
  it('writes every line, in order, across many chunks and non-ASCII text', async () => {
    const { file, fd } = target();
    const d = new LogDestination({ fd, chunkBytes: 4096, minBytes: 1024 });
    const want: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const line = `{"i":${i},"msg":"${i % 7 === 0 ? 'déjà vu ✓ 模型' : 'request'}"}\n`;
      want.push(line);
      d.write(line);
      if (i % 500 === 0) await new Promise((r) => setImmediate(r)); // let some writes finish midway
    }
    await flushed(d);
    d.close();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), want.join(''));
    assert.equal(d.dropped, 0);
  });

  it('writes a line larger than a chunk whole, between its neighbours', async () => {
    const { file, fd } = target();
    const d = new LogDestination({ fd, chunkBytes: 1024 });
    const big = `{"stack":"${'x'.repeat(10_000)}"}\n`;
    d.write('{"a":1}\n');
    d.write(big);
    d.write('{"b":2}\n');
    await flushed(d);
    d.close();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), `{"a":1}\n${big}{"b":2}\n`);
  });

  it('writes a full chunk at once, without waiting for the next one to reach minBytes', async () => {
    const { file, fd } = target();
    const d = new LogDestination({ fd, chunkBytes: 1024, minBytes: 1024, flushEveryMs: 60_000 });
    const line = `${'z'.repeat(99)}\n`;
    for (let i = 0; i < 12; i++) d.write(line); // the first chunk fills; the second holds a few lines
    const deadline = Date.now() + 2000;
    while (readFileSync(file, 'utf8') === '' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const written = readFileSync(file, 'utf8');
    assert.ok(written.length > 0 && written.length < 12 * 100, `the full chunk only: ${written.length} bytes`);
    assert.equal(written, line.repeat(written.length / 100));
    d.close();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), line.repeat(12));
  });

  it('flushSync writes what is held at once (what process exit does)', () => {
    const { file, fd } = target();
    const d = new LogDestination({ fd, minBytes: 1 << 20, chunkBytes: 1 << 20 });
    d.write('one\n');
    d.write('two\n');
    assert.equal(readFileSync(file, 'utf8'), '', 'below minBytes nothing is written yet');
    d.close();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), 'one\ntwo\n');
  });

  it('drops and counts lines beyond maxPendingBytes instead of holding them', async () => {
    const { file, fd } = target();
    const d = new LogDestination({ fd, chunkBytes: 1024, minBytes: 1024, maxPendingBytes: 4096 });
    const line = `${'y'.repeat(99)}\n`; // 100 bytes
    // All in one turn of the event loop: the first write cannot finish before the limit is reached.
    let accepted = 0;
    for (let i = 0; i < 200; i++) if (d.write(line)) accepted++;
    assert.ok(d.dropped > 0, 'some lines were dropped');
    assert.equal(accepted + d.dropped, 200);
    await flushed(d);
    d.close();
    closeSync(fd);
    assert.equal(readFileSync(file, 'utf8'), line.repeat(accepted), 'what was accepted is written whole');
  });
});

describe('LogDestination write errors', () => {
  it('says on stderr, once, that lines were lost when the descriptor cannot be written', async () => {
    const { spawnSync } = await import('node:child_process');
    const file = join(dir, 'read-only');
    closeSync(openSync(file, 'w'));
    const script = `
      import { openSync } from 'node:fs';
      import { LogDestination } from ${JSON.stringify(new URL('./log-destination.ts', import.meta.url).href)};
      const d = new LogDestination({ fd: openSync(${JSON.stringify(file)}, 'r'), minBytes: 16 });
      for (let i = 0; i < 3; i++) d.write('{"msg":"a line that cannot be written"}\\n');
      d.flush(() => { d.write('{"msg":"more"}\\n'); d.flush(() => d.close()); });
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.match(/writing log lines failed \(EBADF/g)?.length, 1, r.stderr);
  });
});
