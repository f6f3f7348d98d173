import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aggregateSnapshots } from './aggregate.ts';
import { findSamples, parseExposition, sampleValue } from './exposition.ts';
import { TiffinMetrics } from './metrics.ts';
import { promtoolCheckMetrics } from '../../testing/promtool.ts';

describe('merging processes', () => {
  it('sums counters, histograms and additive gauges into one series each; GPU gauges are not added up', async () => {
    const gpu = async () => [{ index: '0', uuid: 'G', name: 'H100', memoryUsedBytes: 100, memoryTotalBytes: 1000, utilization: 0.5 }];
    const procs = [0, 1].map(() => new TiffinMetrics({ process: true, gpu: true, gpuQuery: gpu }));
    procs[0]!.model('iris', 'v1').batch(4, 0.01, 'full');
    procs[0]!.model('iris', 'v1').setReplicas(2);
    procs[1]!.model('iris', 'v1').batch(16, 0.02, 'full');
    procs[1]!.model('iris', 'v1').setReplicas(3);
    for (const p of procs) {
      p.model('iris', 'v1').request('success');
      p.model('iris', 'v1').request('shed');
    }
    const text = await aggregateSnapshots(await Promise.all(procs.map((p) => p.snapshot())));
    procs.forEach((p) => p.close());
    const exp = parseExposition(text);
    const v1 = { model: 'iris', version: 'v1' };
    assert.equal(findSamples(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'shed' }).length, 1, 'no duplicated series');
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'shed' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '4' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '16' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_items_total', v1), 20);
    assert.equal(sampleValue(exp, 'tiffin_runner_replicas', v1), 5);
    assert.equal(sampleValue(exp, 'tiffin_gpu_memory_used_bytes', { gpu: '0' }), 100, 'one device seen twice is one device');
    const verdict = await promtoolCheckMetrics(text);
    if (verdict) assert.equal(verdict.output, '');
  });
});
