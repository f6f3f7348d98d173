import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cgroupCpuLimit, cgroupV2Path, coresFromQuota, parseCpuMax, usableCores } from './cores.ts';

describe('usable cores', () => {
  it('reads cgroup v2 cpu.max: a quota rounds up to whole cores, "max" is no limit', () => {
    assert.equal(parseCpuMax('max 100000\n'), undefined);
    assert.equal(parseCpuMax('200000 100000\n'), 2);
    assert.equal(parseCpuMax('150000 100000'), 2);
    assert.equal(parseCpuMax('50000 100000'), 1);
    assert.equal(parseCpuMax('garbage'), undefined);
    assert.equal(coresFromQuota(-1, 100000), undefined, 'cgroup v1 writes -1 for no quota');
  });

  it("finds the process's own cgroup v2 path", () => {
    assert.equal(cgroupV2Path('0::/kubepods/pod1/abc\n'), '/kubepods/pod1/abc');
    assert.equal(cgroupV2Path('4:memory:/x\n0::/\n'), '/');
    assert.equal(cgroupV2Path('4:memory:/x\n'), undefined);
  });

  it('reads a v2 quota, else a v1 quota, under a cgroup root', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tiffin-cgroup-'));
    try {
      assert.equal(cgroupCpuLimit(root), undefined, 'nothing there: no limit');
      await mkdir(join(root, 'cpu'));
      await writeFile(join(root, 'cpu', 'cpu.cfs_quota_us'), '300000\n');
      await writeFile(join(root, 'cpu', 'cpu.cfs_period_us'), '100000\n');
      assert.equal(cgroupCpuLimit(root), 3);
      await writeFile(join(root, 'cpu.max'), '100000 100000\n');
      assert.equal(cgroupCpuLimit(root), 1, 'v2 first');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('never exceeds the CPUs the process may run on', () => {
    const cores = usableCores();
    assert.ok(cores >= 1 && cores <= availableParallelism());
  });
});
