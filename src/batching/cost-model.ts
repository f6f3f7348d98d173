// What a batch of n rows costs, learned from the batches that ran: a least-squares line
// cost(n) = fixedMs + perRowMs·n over a sliding window of recent batches, so it follows the model
// as load, data and the machine change. The dispatcher uses it to decide how long it may wait and
// whether a queued request can still meet its deadline.

export interface CostFit {
  /** Cost of running any batch at all (dispatch, kernel launches, framework overhead). */
  fixedMs: number;
  /** Added cost of each row. */
  perRowMs: number;
  /** Batches the fit is based on. */
  samples: number;
}

export class BatchCostModel {
  private readonly xs: Float64Array;
  private readonly ys: Float64Array;
  private next = 0;
  private count = 0;
  private cached: CostFit | undefined;

  /** `window`: how many recent batches the fit remembers. */
  constructor(readonly window = 64) {
    this.xs = new Float64Array(window);
    this.ys = new Float64Array(window);
  }

  get samples(): number {
    return this.count;
  }

  observe(rows: number, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0 || !Number.isFinite(rows) || rows < 0) return;
    this.xs[this.next] = rows;
    this.ys[this.next] = ms;
    this.next = (this.next + 1) % this.window;
    this.count = Math.min(this.count + 1, this.window);
    this.cached = undefined;
  }

  /** The fitted line, or undefined before the first batch. */
  fit(): CostFit | undefined {
    if (this.count === 0) return undefined;
    if (this.cached) return this.cached;
    // The window is small (64), so refitting from scratch is cheap and free of running-sum drift.
    let sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (let i = 0; i < this.count; i++) {
      const x = this.xs[i]!, y = this.ys[i]!;
      sx += x; sy += y; sxx += x * x; sxy += x * y;
    }
    const n = this.count;
    const meanX = sx / n, meanY = sy / n;
    const varX = sxx / n - meanX * meanX;
    let fixedMs: number, perRowMs: number;
    if (varX < 1e-9 * Math.max(1, meanX * meanX)) {
      // Every batch had the same size, so the slope is unknown. Assume cost proportional to rows:
      // pessimistic for bigger batches, which makes the dispatcher dispatch early rather than late.
      fixedMs = 0;
      perRowMs = meanX > 0 ? meanY / meanX : meanY;
      if (meanX === 0) fixedMs = meanY;
    } else {
      perRowMs = (sxy / n - meanX * meanY) / varX;
      fixedMs = meanY - perRowMs * meanX;
      // Noise can tilt the line; costs are never negative, so clamp to the nearest sensible line.
      if (perRowMs < 0) {
        perRowMs = 0;
        fixedMs = meanY;
      } else if (fixedMs < 0) {
        fixedMs = 0;
        perRowMs = sxx > 0 ? sxy / sxx : 0;
      }
    }
    this.cached = { fixedMs, perRowMs, samples: n };
    return this.cached;
  }

  /** Predicted milliseconds for a batch of `rows`, or undefined before the first batch. */
  predict(rows: number): number | undefined {
    const f = this.fit();
    return f && f.fixedMs + f.perRowMs * rows;
  }
}
