// GPU memory and utilisation, read from `nvidia-smi` at scrape time (cached briefly, so one scrape runs it
// once). NVML bindings would need a native package; nvidia-smi ships with every NVIDIA driver. Where it is
// absent or fails, no GPU series are exported at all: a CPU-only server shows no empty families.
import { execFile } from 'node:child_process';
import { Gauge, type Registry } from 'prom-client';

export interface GpuReading {
  /** nvidia-smi's index, as a string label. */
  index: string;
  uuid: string;
  name: string;
  memoryUsedBytes: number | undefined;
  memoryTotalBytes: number | undefined;
  /** 0..1, or undefined where the GPU does not report it (some MIG slices). */
  utilization: number | undefined;
}

/** Reads every GPU now; undefined when there is no GPU or no way to read one. */
export type GpuQuery = () => Promise<GpuReading[] | undefined>;

const FIELDS = 'index,uuid,name,memory.used,memory.total,utilization.gpu';
const MIB = 1024 * 1024;

/** Parses `nvidia-smi --query-gpu=<FIELDS> --format=csv,noheader,nounits`. */
export function parseNvidiaSmiCsv(text: string): GpuReading[] {
  const out: GpuReading[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length < 6) continue;
    const [index, uuid, name, used, total, util] = cols as [string, string, string, string, string, string];
    out.push({
      index,
      uuid,
      name,
      memoryUsedBytes: numberOrUndefined(used, MIB),
      memoryTotalBytes: numberOrUndefined(total, MIB),
      utilization: numberOrUndefined(util, 0.01),
    });
  }
  return out;
}

function numberOrUndefined(text: string, scale: number): number | undefined {
  // nvidia-smi writes "[N/A]" or "[Not Supported]" for fields a device lacks.
  const n = Number(text);
  return text !== '' && Number.isFinite(n) ? n * scale : undefined;
}

/** Runs nvidia-smi; resolves undefined when it is missing, fails or finds no GPU. */
export function nvidiaSmiQuery(command = 'nvidia-smi', timeoutMs = 2000): GpuQuery {
  return () =>
    new Promise((resolve) => {
      execFile(command, [`--query-gpu=${FIELDS}`, '--format=csv,noheader,nounits'], { timeout: timeoutMs }, (err, stdout) => {
        if (err) return resolve(undefined);
        const readings = parseNvidiaSmiCsv(stdout);
        resolve(readings.length > 0 ? readings : undefined);
      });
    });
}

export class GpuMetrics {
  private cached: { at: number; readings: Promise<GpuReading[] | undefined> } | undefined;

  /** Registers the GPU families; call only once a first query found a GPU. */
  constructor(
    registry: Registry,
    private readonly query: GpuQuery,
    private readonly cacheMs = 1000,
  ) {
    const self = this;
    const gauge = (name: string, help: string, pick: (r: GpuReading) => number | undefined, labels: readonly string[] = ['gpu']) =>
      new Gauge({
        name,
        help,
        labelNames: labels,
        registers: [registry],
        // Processes on one machine see the same devices: merging their snapshots must not add them up.
        aggregator: 'max',
        async collect() {
          this.reset();
          for (const r of (await self.read()) ?? []) {
            const v = pick(r);
            if (v === undefined) continue;
            if (labels.length === 1) this.set({ gpu: r.index }, v);
            else this.set({ gpu: r.index, uuid: r.uuid, name: r.name }, v);
          }
        },
      });
    gauge('tiffin_gpu_info', 'GPU identity (value is always 1).', () => 1, ['gpu', 'uuid', 'name']);
    gauge('tiffin_gpu_memory_used_bytes', 'GPU memory in use, all processes.', (r) => r.memoryUsedBytes);
    gauge('tiffin_gpu_memory_total_bytes', 'GPU memory installed.', (r) => r.memoryTotalBytes);
    gauge('tiffin_gpu_utilization_ratio', 'Share of the last sample period in which a kernel ran on the GPU (0..1).', (r) => r.utilization);
  }

  private read(): Promise<GpuReading[] | undefined> {
    const now = performance.now();
    if (!this.cached || now - this.cached.at > this.cacheMs) {
      this.cached = { at: now, readings: this.query() };
    }
    return this.cached.readings;
  }
}
