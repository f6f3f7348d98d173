import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { aggregateSnapshots } from './aggregate.ts';
import { BoundCounter, BoundHistogram } from './bound-metrics.ts';
import { parseExposition, sampleValue, type Sample } from './exposition.ts';

const BUCKETS = [0.005, 0.01, 0.1, 1];
const OBSERVED = [0.001, 0.005, 0.0051, 0.02, 0.5, 3, 0.1, 0.1000001];

/** Samples in a canonical order, so two scrapes that differ only in line or label order compare equal. */
function samples(text: string): string[] {
  const key = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}} ${s.value}`;
  return parseExposition(text).samples.map(key).sort();
}

describe('bound metrics', () => {
  it('scrape exactly as prom-client\'s own counter and histogram after the same observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    for (const r of [ours, theirs]) r.setDefaultLabels({ pod: 'p-1' });
    const h = new BoundHistogram({ name: 'x_seconds', help: 'x', labelNames: ['route', 'status'], buckets: BUCKETS, registry: ours });
    const c = new BoundCounter({ name: 'x_total', help: 'x', labelNames: ['route', 'status'], registry: ours });
    const ph = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['route', 'status'], buckets: BUCKETS, registers: [theirs] });
    const pc = new Counter({ name: 'x_total', help: 'x', labelNames: ['route', 'status'], registers: [theirs] });
    for (const [i, v] of OBSERVED.entries()) {
      const status = i % 3 === 0 ? '500' : '200';
      h.labels('/a', status).observe(v);
      ph.labels('/a', status).observe(v);
      c.labels('/a', status).inc();
      pc.labels('/a', status).inc();
    }
    c.labels('/b', '200').inc(2.5);
    pc.labels('/b', '200').inc(2.5);
    const text = await ours.metrics();
    assert.deepEqual(samples(text), samples(await theirs.metrics()));
    assert.match(text, /# TYPE x_seconds histogram/);
    assert.match(text, /# TYPE x_total counter/);
    const exp = parseExposition(text);
    assert.equal(sampleValue(exp, 'x_seconds_bucket', { route: '/a', status: '500', le: '0.1' }), 3, '0.1 itself falls in le=0.1');
    assert.equal(sampleValue(exp, 'x_seconds_bucket', { route: '/a', status: '200', le: '+Inf' }), 5);
  });

  it('hand out one child per label set, and keep counting through a scrape', async () => {
    const registry = new Registry();
    const c = new BoundCounter({ name: 'y_total', help: 'y', labelNames: ['m'], registry });
    assert.equal(c.labels('a'), c.labels('a'));
    c.labels('a').inc();
    await registry.metrics();
    c.labels('a').inc();
    assert.equal(sampleValue(parseExposition(await registry.metrics()), 'y_total', { m: 'a' }), 2);
  });

  it('drop a removed series, zero on reset, and refuse bad input', async () => {
    const registry = new Registry();
    const h = new BoundHistogram({ name: 'z_seconds', help: 'z', labelNames: ['m'], buckets: BUCKETS, registry });
    h.labels('gone').observe(1);
    h.labels('kept').observe(1);
    h.remove('gone');
    let exp = parseExposition(await registry.metrics());
    assert.equal(sampleValue(exp, 'z_seconds_count', { m: 'gone' }), undefined);
    assert.equal(sampleValue(exp, 'z_seconds_count', { m: 'kept' }), 1);
    registry.resetMetrics();
    exp = parseExposition(await registry.metrics());
    assert.equal(sampleValue(exp, 'z_seconds_count', { m: 'kept' }), 0);
    assert.equal(sampleValue(exp, 'z_seconds_bucket', { m: 'kept', le: '+Inf' }), 0);
    assert.throws(() => h.labels('a', 'b'), /takes 1 label values, got 2/);
    assert.throws(() => h.labels('kept').observe(NaN), /not a finite number/);
    const c = new BoundCounter({ name: 'w_total', help: 'w', labelNames: [], registry });
    assert.throws(() => c.labels().inc(-1), /only goes up/);
    assert.throws(() => new BoundCounter({ name: 'bad name', help: '', labelNames: [], registry }), /invalid metric name/);
    assert.throws(() => new BoundHistogram({ name: 'v', help: '', labelNames: ['le'], buckets: [1], registry }), /reserved/);
    assert.throws(() => new BoundCounter({ name: 'w_total', help: 'w', labelNames: [], registry }), /already been registered/);
  });

  it('add up across processes like prom-client\'s metrics', async () => {
    const snapshots = [];
    for (const v of [0.002, 0.5]) {
      const registry = new Registry();
      new BoundHistogram({ name: 'q_seconds', help: 'q', labelNames: ['m'], buckets: BUCKETS, registry }).labels('a').observe(v);
      new BoundCounter({ name: 'q_total', help: 'q', labelNames: ['m'], registry }).labels('a').inc(3);
      snapshots.push(await registry.getMetricsAsJSON());
    }
    const exp = parseExposition(await aggregateSnapshots(snapshots as never));
    assert.equal(sampleValue(exp, 'q_total', { m: 'a' }), 6);
    assert.equal(sampleValue(exp, 'q_seconds_count', { m: 'a' }), 2);
    assert.equal(sampleValue(exp, 'q_seconds_bucket', { m: 'a', le: '0.005' }), 1);
    assert.equal(sampleValue(exp, 'q_seconds_sum', { m: 'a' }), 0.502);
  });
});
