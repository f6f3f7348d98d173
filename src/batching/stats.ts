// Fixed-bucket histograms for the dispatcher's numbers (batch sizes, queue waits, run times), shaped
// like Prometheus histograms so that an exporter can copy them as they are.

export interface HistogramSnapshot {
  /** Upper bounds of the buckets (a value v falls in the first bucket with v <= bound); the last is Infinity. */
  bounds: number[];
  /** Observations per bucket (not cumulative). */
  counts: number[];
  count: number;
  sum: number;
  max: number;
}

/** Milliseconds, from 100 µs (a tiny model's hop) to 10 s (a request stuck behind a backlog). */
export const MS_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000];

/** 1, 2, 4, ... up to and including `max`. */
export function sizeBuckets(max: number): number[] {
  const out: number[] = [];
  for (let b = 1; b < max; b *= 2) out.push(b);
  out.push(max);
  return out;
}

export class Histogram {
  private readonly bounds: number[];
  private readonly counts: number[];
  private count = 0;
  private sum = 0;
  private max = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = [...bounds, Infinity];
    this.counts = this.bounds.map(() => 0);
  }

  observe(value: number): void {
    let i = 0;
    while (value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  snapshot(): HistogramSnapshot {
    return { bounds: [...this.bounds], counts: [...this.counts], count: this.count, sum: this.sum, max: this.max };
  }
}
