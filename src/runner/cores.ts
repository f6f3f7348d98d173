// How many cores this process may really use: the CPUs it may run on, capped by a cgroup CPU quota. A
// container limited to 2 CPUs on a 64-core node sees 64 in os.availableParallelism(), and a runner that
// started 64 single-threaded replicas there would be throttled by its own quota.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Cores allowed by a quota of `quota` µs of CPU per `period` µs; undefined when unlimited or unreadable. */
export function coresFromQuota(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** cgroup v2's `cpu.max` ("max 100000" or "200000 100000"). */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  return quota === 'max' ? undefined : coresFromQuota(Number(quota), Number(period));
}

/** This process's cgroup v2 path, from the `0::/path` line of /proc/self/cgroup. */
export function cgroupV2Path(procSelfCgroup: string): string | undefined {
  return /^0::(\/.*)$/m.exec(procSelfCgroup)?.[1];
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The cgroup CPU quota in cores (v2, then v1), or undefined when there is none or it cannot be read. */
export function cgroupCpuLimit(root = '/sys/fs/cgroup'): number | undefined {
  const own = cgroupV2Path(read('/proc/self/cgroup') ?? '');
  for (const dir of own && own !== '/' ? [`${root}${own}`, root] : [root]) {
    const max = read(`${dir}/cpu.max`);
    if (max !== undefined) return parseCpuMax(max);
  }
  const quota = read(`${root}/cpu/cpu.cfs_quota_us`) ?? read(`${root}/cpu,cpuacct/cpu.cfs_quota_us`);
  const period = read(`${root}/cpu/cpu.cfs_period_us`) ?? read(`${root}/cpu,cpuacct/cpu.cfs_period_us`);
  return quota !== undefined && period !== undefined ? coresFromQuota(Number(quota), Number(period)) : undefined;
}

/** The CPUs this process may run on, capped by its cgroup CPU quota. */
export function usableCores(): number {
  return Math.min(availableParallelism(), cgroupCpuLimit() ?? Infinity);
}
