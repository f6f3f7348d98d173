import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { parseExposition, sampleValue } from './exposition.ts';
import { nvidiaSmiQuery, parseNvidiaSmiCsv, type GpuReading } from './gpu-metrics.ts';
import { TiffinMetrics } from './metrics.ts';
import { promtoolCheckMetrics } from '../../testing/promtool.ts';

describe('GPU metrics', () => {
  it('parse nvidia-smi CSV, including fields a device does not report', () => {
    const csv = '0, GPU-aaa, NVIDIA H100 80GB HBM3, 1024, 81559, 37\n1, GPU-bbb, NVIDIA A100 MIG 1g.10gb, 512, 9728, [N/A]\n';
    const [a, b] = parseNvidiaSmiCsv(csv);
    assert.deepEqual(a, {
      index: '0',
      uuid: 'GPU-aaa',
      name: 'NVIDIA H100 80GB HBM3',
      memoryUsedBytes: 1024 * 2 ** 20,
      memoryTotalBytes: 81559 * 2 ** 20,
      utilization: 0.37,
    });
    assert.equal(b!.utilization, undefined);
  });

  it('export memory and utilisation per GPU, queried once per scrape', async () => {
    let queries = 0;
    const reading: GpuReading = { index: '0', uuid: 'GPU-aaa', name: 'H100', memoryUsedBytes: 3e9, memoryTotalBytes: 8e10, utilization: 0.25 };
    const m = new TiffinMetrics({ process: false, gpu: 'auto', gpuQuery: async () => (queries++, [reading]) });
    const queriesBefore = queries; // the 'auto' probe
    const exp = parseExposition(await m.scrape());
    assert.equal(queries - queriesBefore, 1, 'one nvidia-smi run for four families');
    assert.equal(sampleValue(exp, 'tiffin_gpu_memory_used_bytes', { gpu: '0' }), 3e9);
    assert.equal(sampleValue(exp, 'tiffin_gpu_memory_total_bytes', { gpu: '0' }), 8e10);
    assert.equal(sampleValue(exp, 'tiffin_gpu_utilization_ratio', { gpu: '0' }), 0.25);
    assert.equal(sampleValue(exp, 'tiffin_gpu_info', { gpu: '0', name: 'H100', uuid: 'GPU-aaa' }), 1);
  });

  it('are absent, families included, when no GPU is found', async () => {
    const m = new TiffinMetrics({ process: false, gpu: 'auto', gpuQuery: async () => undefined });
    assert.doesNotMatch(await m.scrape(), /tiffin_gpu_/);
    const missing = new TiffinMetrics({ process: false, gpu: 'auto', gpuQuery: nvidiaSmiQuery('/nonexistent/nvidia-smi') });
    assert.doesNotMatch(await missing.scrape(), /tiffin_gpu_/);
  });

  it('read a real GPU when nvidia-smi finds one', async (t) => {
    try {
      execFileSync('nvidia-smi', ['-L'], { stdio: 'ignore' });
    } catch {
      return t.skip('no nvidia-smi on this machine');
    }
    const m = new TiffinMetrics({ process: false, gpu: 'auto' });
    const text = await m.scrape();
    const exp = parseExposition(text);
    assert.ok((sampleValue(exp, 'tiffin_gpu_memory_total_bytes', { gpu: '0' }) ?? 0) > 0);
    const verdict = await promtoolCheckMetrics(text);
    if (verdict) assert.equal(verdict.output, '');
  });
});
