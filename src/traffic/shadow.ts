// Shadow traffic: a sampled copy of a live request goes to the shadow variant after the live answer is computed,
// never awaited by the caller, its failures swallowed, and skipped when the shadow already has `maxInFlight` copies
// running (shadows are dropped first under load). Each answer is compared with the live one.
import type { Tensor } from '../runtime/tensor.ts';

const FLOAT_DTYPES = new Set(['float16', 'bfloat16', 'float32', 'float64']);

export interface ShadowStatsJson {
  version: string;
  /** Copies started. */
  sent: number;
  /** Copies not sent because maxInFlight were running. */
  dropped: number;
  /** Copies that failed (their errors go to the log, never to the caller). */
  failed: number;
  /** Copies answered and compared. */
  compared: number;
  /** Share of compared answers whose integer, bool and string outputs all equal the live ones (null: none compared). */
  exactMatchRate: number | null;
  /** Over every float element compared: mean and max of |live - shadow| (null: no floats compared). */
  meanAbsDiff: number | null;
  maxAbsDiff: number | null;
  /** Answers whose outputs differ in names or shapes. */
  shapeMismatches: number;
  inFlight: number;
}

export class ShadowStats {
  sent = 0;
  dropped = 0;
  failed = 0;
  compared = 0;
  exactCompared = 0;
  exactMatches = 0;
  floatCount = 0;
  floatSum = 0;
  floatMax = 0;
  shapeMismatches = 0;
  inFlight = 0;

  constructor(readonly version: string) {}

  /** Records one shadow answer against the live one. */
  compare(live: Record<string, Tensor>, shadow: Record<string, Tensor>): void {
    this.compared++;
    let exact = true;
    let anyExact = false;
    for (const [name, a] of Object.entries(live)) {
      const b = shadow[name];
      if (!b || b.shape.length !== a.shape.length || b.shape.some((d, i) => d !== a.shape[i]) || b.data.length !== a.data.length) {
        this.shapeMismatches++;
        exact = false;
        anyExact = true;
        continue;
      }
      if (FLOAT_DTYPES.has(a.dtype) && FLOAT_DTYPES.has(b.dtype) && a.dtype !== 'float16' && a.dtype !== 'bfloat16') {
        const x = a.data as Float32Array | Float64Array;
        const y = b.data as Float32Array | Float64Array;
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i]! - y[i]!);
          this.floatSum += d;
          if (d > this.floatMax) this.floatMax = d;
        }
        this.floatCount += x.length;
      } else {
        anyExact = true;
        const x = a.data as ArrayLike<unknown>;
        const y = b.data as ArrayLike<unknown>;
        for (let i = 0; i < x.length; i++) {
          if (x[i] !== y[i]) {
            exact = false;
            break;
          }
        }
      }
    }
    if (anyExact) {
      this.exactCompared++;
      if (exact) this.exactMatches++;
    }
  }

  toJSON(): ShadowStatsJson {
    return {
      version: this.version,
      sent: this.sent,
      dropped: this.dropped,
      failed: this.failed,
      compared: this.compared,
      exactMatchRate: this.exactCompared === 0 ? null : this.exactMatches / this.exactCompared,
      meanAbsDiff: this.floatCount === 0 ? null : this.floatSum / this.floatCount,
      maxAbsDiff: this.floatCount === 0 ? null : this.floatMax,
      shapeMismatches: this.shapeMismatches,
      inFlight: this.inFlight,
    };
  }
}
