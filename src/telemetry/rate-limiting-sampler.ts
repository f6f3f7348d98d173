// Tiffin's default root sampler: at most N new traces per second (a token bucket), so tracing costs the
// same at 50 requests per second, where every request is traced, and at 50 000, where a few are. Requests
// whose caller already decided (a sampled `traceparent`) follow that decision, via ParentBasedSampler.
import { ParentBasedSampler, SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';

export class RateLimitingSampler implements Sampler {
  private tokens: number;
  private last: number;

  /** `now`: a millisecond clock (tests). */
  constructor(
    readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = perSecond;
    this.last = now();
  }

  shouldSample(): SamplingResult {
    return { decision: this.take() ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  /** Takes a token when one is left: true means "start a trace". */
  take(): boolean {
    const t = this.now();
    // Refill for the time since the last call; the bucket holds one second's worth, so a quiet spell allows a burst.
    this.tokens = Math.min(this.perSecond, this.tokens + ((t - this.last) * this.perSecond) / 1000);
    this.last = t;
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
