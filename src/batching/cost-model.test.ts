import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchCostModel } from './cost-model.ts';

describe('BatchCostModel', () => {
  it('knows nothing before the first batch', () => {
    assert.equal(new BatchCostModel().predict(4), undefined);
  });

  it('converges on the fixed and per-row cost from noisy batches', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const model = new BatchCostModel(64);
    for (let i = 0; i < 200; i++) {
      const n = 1 + Math.floor(rand() * 32);
      model.observe(n, 2 + 0.5 * n + (rand() - 0.5) * 0.4);
    }
    const fit = model.fit()!;
    assert.ok(Math.abs(fit.fixedMs - 2) < 0.2, `fixed ${fit.fixedMs}`);
    assert.ok(Math.abs(fit.perRowMs - 0.5) < 0.02, `per row ${fit.perRowMs}`);
    assert.equal(fit.samples, 64);
  });

  it('follows a change in cost within one window', () => {
    const model = new BatchCostModel(16);
    for (let n = 1; n <= 16; n++) model.observe(n, 1 + n);
    for (let n = 1; n <= 16; n++) model.observe(n, 5 + 2 * n);
    assert.ok(Math.abs(model.predict(10)! - 25) < 1e-9);
  });

  it('assumes cost proportional to rows when every batch had the same size', () => {
    const model = new BatchCostModel();
    for (let i = 0; i < 5; i++) model.observe(1, 3);
    assert.equal(model.predict(1), 3);
    assert.equal(model.predict(4), 12);
  });

  it('never predicts a negative cost', () => {
    const model = new BatchCostModel();
    model.observe(1, 5);
    model.observe(10, 1);
    const fit = model.fit()!;
    assert.ok(fit.fixedMs >= 0 && fit.perRowMs >= 0);
  });
});
