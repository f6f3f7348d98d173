import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { isTiffinError } from '../../errors/index.ts';
import { parseExposition, sampleValue } from './exposition.ts';
import { UserMetrics } from './user-metrics.ts';

const invalid = (e: unknown) => isTiffinError(e, 'SERVICE_INVALID');

describe('user metrics (ctx.metrics)', () => {
  it('get-or-create: asking again on every request returns the same metric', async () => {
    const registry = new Registry();
    const user = new UserMetrics(registry);
    for (let i = 0; i < 3; i++) user.counter('fraud_checks', 'Fraud checks.', { labelNames: ['verdict'] }).inc({ verdict: 'ok' });
    user.counter('fraud_checks_total', 'Fraud checks.', { labelNames: ['verdict'] }).inc({ verdict: 'bad' }, 2);
    const h = user.histogram('score', 'Score.', { buckets: [0.5, 1] });
    h.observe(0.2);
    const stop = h.startTimer();
    assert.ok(stop() >= 0);
    user.gauge('queue', 'Items queued.').set(4);
    const exp = parseExposition(await registry.metrics());
    assert.equal(sampleValue(exp, 'fraud_checks_total', { verdict: 'ok' }), 3, '_total appended to counters');
    assert.equal(sampleValue(exp, 'fraud_checks_total', { verdict: 'bad' }), 2);
    assert.equal(sampleValue(exp, 'score_count'), 2);
    assert.equal(sampleValue(exp, 'score_bucket', { le: '0.5' }) !== undefined, true);
    assert.equal(sampleValue(exp, 'queue'), 4);
  });

  it('throws SERVICE_INVALID for a second definition that disagrees', () => {
    const user = new UserMetrics(new Registry());
    user.counter('a', 'A.', { labelNames: ['x'] });
    assert.throws(() => user.counter('a', 'A.', { labelNames: ['y'] }), invalid);
    assert.throws(() => user.gauge('a_total', 'A.'), invalid);
    user.histogram('h', 'H.', { buckets: [1, 2] });
    assert.throws(() => user.histogram('h', 'H.', { buckets: [1, 3] }), invalid);
  });

  it('validates names, labels and help, and reserves the names Tiffin exports', () => {
    const user = new UserMetrics(new Registry());
    for (const name of ['1abc', 'a-b', '__x', 'tiffin_mine', 'process_foo', 'nodejs_bar']) {
      assert.throws(() => user.gauge(name, 'help'), invalid, name);
    }
    assert.throws(() => user.gauge('ok', 'help', { labelNames: ['bad-label'] }), invalid);
    assert.throws(() => user.histogram('ok2', 'help', { labelNames: ['le'] }), invalid);
    assert.throws(() => user.gauge('ok3', ' '), invalid);
    assert.throws(() => user.histogram('ok4', 'help', { buckets: [2, 1] }), invalid);
  });

  it('puts a configured prefix in front of every name', async () => {
    const registry = new Registry();
    new UserMetrics(registry, 'shop_').counter('orders', 'Orders.').inc();
    assert.equal(sampleValue(parseExposition(await registry.metrics()), 'shop_orders_total'), 1);
  });
});
