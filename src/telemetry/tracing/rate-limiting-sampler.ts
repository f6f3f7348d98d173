// Tiffin's default root sampler: at most N new traces per second (a token bucket), so tracing costs the
// same at 50 requests per second, where every request is traced, and at 50 000, where a few are. Requests
// whose caller already decided (a sampled `traceparent`) follow that decision, via ParentBasedSampler.
//
// The bucket refills in steps, a tenth of a second's tokens every 100 ms, rather than continuously. Under load
// the traced requests then come in short runs of consecutive requests (ten at the default of 100 a second)
// instead of one every few hundred. That is cheaper for the same number of traces: code that runs once in a
// few hundred requests runs cold, several times slower than when it runs a few times in a row (bench/RESULTS.md,
// "Rare traced requests run cold"), and consecutive requests share batches, so their batch and model-run spans
// are made once for several traces. AWS X-Ray's reservoir (the first requests of each second) clusters the same way.
import { ParentBasedSampler, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';

/** How often the bucket is topped up. */
const REFILL_STEP_MS = 100;

export class RateLimitingSampler implements Sampler {
  private tokens: number;
  /** When the next step's tokens are due. */
  private nextRefill: number;
  private readonly perStep: number;

  /** `now`: a millisecond clock (tests). */
  constructor(
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.perStep = (perSecond * REFILL_STEP_MS) / 1000;
    this.nextRefill = now() + REFILL_STEP_MS;
  }

  shouldSample(): SamplingResult {
    return { decision: this.take() ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  /** Takes a token when one is left: true means "start a trace". */
  take(): boolean {
    const t = this.now();
    if (t >= this.nextRefill) {
      // Every step since the last refill adds its tokens; the bucket holds one second's worth, so a quiet spell
      // allows a burst.
      const steps = Math.floor((t - this.nextRefill) / REFILL_STEP_MS) + 1;
      this.tokens = Math.min(this.perSecond, this.tokens + steps * this.perStep);
      this.nextRefill += steps * REFILL_STEP_MS;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  toString(): string {
    return `RateLimitingSampler{${this.perSecond}/s}`;
  }
}

/** Traces that callers sampled, plus up to `perSecond` new ones. */
export function defaultSampler(perSecond: number): Sampler {
  return new ParentBasedSampler({ root: new RateLimitingSampler(perSecond) });
}
