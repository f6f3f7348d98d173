import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { isTiffinError } from '../../errors/index.ts';
import { PredictionLog, type RecordOutcome } from './prediction-log.ts';
import { requestSampler } from '../tracing/sampling.ts';
import { logTensors, monitorLoads } from './tensor-monitor.ts';
import { tensor, type Tensor } from '../../runtime/tensor.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tiffin-monitor-'));
  dirs.push(d);
  return d;
}
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function readJsonl(dir: string, base: string): Promise<Record<string, unknown>[]> {
  const files = (await readdir(dir)).filter((f) => f.startsWith(`${base}.`)).sort((a, b) => index(a) - index(b));
  const out: Record<string, unknown>[] = [];
  for (const f of files) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean)) out.push(JSON.parse(line) as Record<string, unknown>);
  }
  return out;
}
const index = (name: string) => Number(name.split('.')[1]);

describe('prediction log', () => {
  it('writes features and predictions of a request as one row, targets as rows joined by request id, and a schema', async () => {
    const dir = await tempDir();
    const log = new PredictionLog({ dir, now: () => new Date('2025-01-02T03:04:05.000Z') });
    const stream = log.stream('iris', { columns: { species: { role: 'prediction', type: 'categorical' } } });
    const features = new Float32Array([5.1, 3.5]);
    const rec = stream.record('req-1');
    rec.features({ sepal_length: 5.1, petal: features, source: 'web', flagged: false });
    features[0] = 99; // logged values are captured when logged
    rec.log('species', 'setosa', 'prediction');
    rec.log('confidence', 0.93, 'prediction', 'numerical');
    rec.commit();
    rec.commit(); // idempotent
    stream.record('req-2').commit(); // nothing logged: nothing written
    stream.logTarget('req-1', { true_species: 'versicolor' });
    await log.close();

    const rows = await readJsonl(join(dir, 'iris'), 'data');
    assert.deepEqual(rows, [
      {
        request_id: 'req-1',
        timestamp: '2025-01-02T03:04:05.000Z',
        sepal_length: 5.1,
        petal: [5.099999904632568, 3.5],
        source: 'web',
        flagged: false,
        species: 'setosa',
        confidence: 0.93,
      },
    ]);
    const targets = await readJsonl(join(dir, 'iris'), 'targets');
    assert.deepEqual(targets, [{ request_id: 'req-1', timestamp: '2025-01-02T03:04:05.000Z', true_species: 'versicolor' }]);

    const schema = JSON.parse(await readFile(join(dir, 'iris', 'schema.json'), 'utf8')) as { columns: unknown[]; key: string; stream: string };
    assert.equal(schema.stream, 'iris');
    assert.equal(schema.key, 'request_id');
    assert.deepEqual(schema.columns, [
      { name: 'request_id', role: 'id', type: 'categorical' },
      { name: 'timestamp', role: 'time', type: 'datetime' },
      { name: 'species', role: 'prediction', type: 'categorical' },
      { name: 'sepal_length', role: 'feature', type: 'numerical' },
      { name: 'petal', role: 'feature', type: 'numerical_sequence' },
      { name: 'source', role: 'feature', type: 'categorical' },
      { name: 'flagged', role: 'feature', type: 'boolean' },
      { name: 'confidence', role: 'prediction', type: 'numerical' },
      { name: 'true_species', role: 'target', type: 'categorical' },
    ]);
  });

  it('keeps about sampleRate of requests, features, prediction and target of a request together', async () => {
    const dir = await tempDir();
    const outcomes: Record<RecordOutcome, number> = { kept: 0, sampled_out: 0, dropped: 0 };
    const log = new PredictionLog({ dir, sampleRate: 0.1, onRecord: (_s, o) => outcomes[o]++ });
    const stream = log.stream('fraud');
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const rec = stream.record(`req-${i}`);
      rec.features({ amount: i });
      rec.predictions({ fraud: i % 2 === 0 });
      rec.commit();
      stream.logTarget(`req-${i}`, { fraud_confirmed: i % 3 === 0 });
    }
    await log.close();
    const rows = await readJsonl(join(dir, 'fraud'), 'data');
    const targets = await readJsonl(join(dir, 'fraud'), 'targets');
    const share = rows.length / n;
    assert.ok(Math.abs(share - 0.1) < 0.015, `kept ${share} of requests, wanted 0.1 ± 0.015`);
    assert.ok(rows.every((r) => 'amount' in r && 'fraud' in r), 'a kept request keeps both its features and its prediction');
    assert.deepEqual(
      targets.map((t) => t.request_id),
      rows.map((r) => r.request_id),
      'targets are kept for exactly the requests that were kept',
    );
    assert.equal(outcomes.kept, rows.length + targets.length);
    assert.equal(outcomes.sampled_out, 2 * (n - rows.length));
  });

  it('uses an injected sampler, and the default sampler agrees across processes (hash of the id)', async () => {
    const dir = await tempDir();
    const log = new PredictionLog({ dir, sample: (id) => id.endsWith('7') });
    const s = log.stream('s');
    for (const id of ['a7', 'b8', 'c7']) s.record(id).features({ x: 1 }).commit();
    await log.close();
    assert.deepEqual((await readJsonl(join(dir, 's'), 'data')).map((r) => r.request_id), ['a7', 'c7']);
    const a = requestSampler(0.3);
    const b = requestSampler(0.3);
    for (let i = 0; i < 100; i++) assert.equal(a(`id-${i}`), b(`id-${i}`));
  });

  it('rotates data files by size and keeps only the newest maxFiles', async () => {
    const dir = await tempDir();
    const log = new PredictionLog({ dir, maxFileBytes: 1000, maxFiles: 3, flushIntervalMs: 5 });
    const stream = log.stream('big');
    for (let i = 0; i < 100; i++) {
      stream.record(`r-${String(i).padStart(3, '0')}`).features({ text: 'x'.repeat(40) }).commit();
      if (i % 10 === 9) await stream.flush();
    }
    await log.close();
    const files = (await readdir(join(dir, 'big'))).filter((f) => f.startsWith('data.')).sort((a, b) => index(a) - index(b));
    assert.equal(files.length, 3, files.join(','));
    const sizes = await Promise.all(files.map(async (f) => (await readFile(join(dir, 'big', f))).length));
    assert.ok(sizes.every((s) => s <= 1000), `sizes ${sizes}`);
    // Every line is whole, and the kept files hold the newest rows in order.
    const rows = await readJsonl(join(dir, 'big'), 'data');
    const ids = rows.map((r) => String(r.request_id));
    assert.equal(ids.at(-1), 'r-099');
    assert.deepEqual(ids, [...ids].sort());
    assert.ok(index(files[0]!) > 1, 'older files were deleted');

    // A restart continues numbering after the last file and prunes across runs.
    const again = new PredictionLog({ dir, maxFileBytes: 1000, maxFiles: 3 });
    again.stream('big').record('r-100').features({ text: 'y' }).commit();
    await again.close();
    const after = (await readdir(join(dir, 'big'))).filter((f) => f.startsWith('data.')).map(index).sort((a, b) => a - b);
    assert.equal(after.length, 3);
    assert.equal(after.at(-1), index(files.at(-1)!) + 1);
  });

  it('drops and counts records instead of buffering without bound', async () => {
    const dir = await tempDir();
    const outcomes: RecordOutcome[] = [];
    const log = new PredictionLog({ dir, maxBufferBytes: 300, onRecord: (_s, o) => outcomes.push(o) });
    const s = log.stream('tiny');
    for (let i = 0; i < 10; i++) s.record(`r${i}`).features({ v: 'z'.repeat(50) }).commit();
    await log.close();
    assert.ok(outcomes.includes('kept') && outcomes.includes('dropped'));
    assert.equal((await readJsonl(join(dir, 'tiny'), 'data')).length, outcomes.filter((o) => o === 'kept').length);
  });

  it('rejects programming errors: a column logged with two roles, reserved names, bad stream names', async () => {
    const log = new PredictionLog({ dir: await tempDir() });
    const s = log.stream('m');
    const r = s.record('r1');
    r.log('x', 1, 'feature');
    assert.throws(() => s.record('r2').log('x', 1, 'prediction'), (e) => isTiffinError(e, 'SERVICE_INVALID'));
    assert.throws(() => s.record('r3').log('request_id', 1, 'feature'), (e) => isTiffinError(e, 'SERVICE_INVALID'));
    assert.throws(() => s.record('r4').log('y', 1, 'target'), (e) => isTiffinError(e, 'SERVICE_INVALID'));
    assert.throws(() => log.stream('../etc'), (e) => isTiffinError(e, 'INVALID_NAME'));
    await log.close();
  });

  it('the disabled log keeps nothing and writes nothing', async () => {
    const s = PredictionLog.disabled().stream('anything');
    const r = s.record('r');
    r.features({ a: 1 }).commit();
    assert.equal(r.sampled, false);
    await s.flush();
  });
});

describe('zero-code model monitoring', () => {
  it('logs input tensors as features and output tensors as predictions', async () => {
    const dir = await tempDir();
    const log = new PredictionLog({ dir });
    const rec = log.stream('mlp').record('r1');
    logTensors(
      rec,
      { input: tensor('float32', [1, 3], Float32Array.from([0.5, 1, 2])), ids: tensor('int64', [1], BigInt64Array.from([7n])) },
      { output: tensor('float16', [1, 2], Uint16Array.from([0x3c00, 0x4000])) },
    );
    rec.commit();
    await log.close();
    const [row] = await readJsonl(join(dir, 'mlp'), 'data');
    assert.deepEqual(row!.input, [0.5, 1, 2]);
    assert.deepEqual(row!.ids, [7]);
    assert.deepEqual(row!.output, [1, 2], 'half floats decoded');
    const schema = JSON.parse(await readFile(join(dir, 'mlp', 'schema.json'), 'utf8')) as { columns: { name: string; role: string; type: string }[] };
    assert.deepEqual(schema.columns.slice(2).map((c) => `${c.name}:${c.role}:${c.type}`), [
      'input:feature:numerical_sequence',
      'ids:feature:numerical_sequence',
      'output:prediction:numerical_sequence',
    ]);
  });
});

describe('monitoring zero-code models through the loader', () => {
  it('logs each call of a monitored model, inputs captured before the runner takes their buffers', async () => {
    const dir = await tempDir();
    const log = new PredictionLog({ dir, sampleRate: 0 }); // the global rate keeps nothing; the model's own rate wins
    const loader = async (tag: string) => ({
      tag,
      closed: false,
      async run(feeds: Record<string, Tensor>, _options?: { requestId?: string }) {
        const x = feeds.x!.data as Float32Array;
        const y = tensor('float32', [1], Float32Array.from([x[0]! * 2]));
        feeds.x!.data = new Float32Array(0); // as a transferred buffer would be
        return { y };
      },
      async close() {},
    });
    const load = monitorLoads(log, loader);
    const monitored = await load('double:1', { config: { name: 'double', monitor: { sampleRate: 1 } } });
    const plain = await load('other:1', { config: { name: 'other' } });
    await monitored.run({ x: tensor('float32', [1], Float32Array.from([21])) }, { requestId: 'req-9' });
    await plain.run({ x: tensor('float32', [1], Float32Array.from([1])) });
    await log.close();
    const rows = await readJsonl(join(dir, 'double'), 'data');
    assert.deepEqual(rows.map((r) => [r.request_id, r.x, r.y]), [['req-9', [21], [42]]]);
    assert.deepEqual(await readdir(dir), ['double'], 'models without monitor: log nothing');
  });
});
