// A rollout plan: the canary's share goes through steps (such as 5, 25, 50, 100) on a schedule, and the plan rolls
// back to the route it started from when, over a sliding window with at least minRequests calls on each side, the
// canary's error rate or p99 latency exceeds the baseline's by more than a margin.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';

export const rolloutSpecSchema = z.strictObject({
  canary: z.string().min(1),
  /** Default: the current route's heaviest variant, or the model's default version. */
  baseline: z.string().min(1).optional(),
  /** Canary percentages, rising, ending at 100 or below. Default 5, 25, 50, 100. */
  steps: z.array(z.number().gt(0).max(100)).min(1).optional(),
  /** Time at each step before the next (if the canary had minRequests calls). Default 60 s. */
  stepIntervalMs: z.number().int().min(10).optional(),
  /** Sliding window the comparison looks at. Default 60 s. */
  windowMs: z.number().int().min(10).optional(),
  /** Calls needed on each side before comparing, and on the canary before moving on. Default 20. */
  minRequests: z.number().int().min(1).optional(),
  /** Largest tolerated canary error rate minus the baseline's (0 to 1). Default 0.05. */
  maxErrorRateIncrease: z.number().min(0).max(1).optional(),
  /** Largest tolerated canary p99 minus the baseline's, ms. Default 100. */
  maxP99IncreaseMs: z.number().min(0).optional(),
  reason: z.string().optional(),
});

export type RolloutSpec = z.input<typeof rolloutSpecSchema>;

export interface RolloutSettings {
  canary: string;
  baseline: string;
  steps: number[];
  stepIntervalMs: number;
  windowMs: number;
  minRequests: number;
  maxErrorRateIncrease: number;
  maxP99IncreaseMs: number;
}

export type RolloutState = 'running' | 'complete' | 'rolled-back' | 'cancelled';

export interface RolloutView extends RolloutSettings {
  state: RolloutState;
  /** Index into steps of the current step. */
  step: number;
  reason: string;
  canaryWindow: WindowStats;
  baselineWindow: WindowStats;
}

export interface WindowStats {
  requests: number;
  errorRate: number | null;
  p99Ms: number | null;
}

export function parseRollout(model: string, spec: unknown): Omit<RolloutSettings, 'baseline'> & { baseline?: string; reason?: string } {
  const parsed = rolloutSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TiffinError('TRAFFIC_ROUTE_INVALID', `rollout of ${model}: ${issue.path.join('.') || 'plan'}: ${issue.message}`, { details: { model } });
  }
  const p = parsed.data;
  const steps = p.steps ?? [5, 25, 50, 100];
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `rollout of ${model}: steps must rise`, { details: { model } });
  if (p.baseline !== undefined && p.baseline === p.canary) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `rollout of ${model}: the canary cannot be its own baseline`, { details: { model } });
  return {
    canary: p.canary,
    ...(p.baseline ? { baseline: p.baseline } : {}),
    steps,
    stepIntervalMs: p.stepIntervalMs ?? 60_000,
    windowMs: p.windowMs ?? 60_000,
    minRequests: p.minRequests ?? 20,
    maxErrorRateIncrease: p.maxErrorRateIncrease ?? 0.05,
    maxP99IncreaseMs: p.maxP99IncreaseMs ?? 100,
    ...(p.reason ? { reason: p.reason } : {}),
  };
}

const MAX_SAMPLES = 4096;

/** Recent outcomes of one version: time, success, latency. */
export class OutcomeWindow {
  private at: number[] = [];
  private ok: boolean[] = [];
  private ms: number[] = [];

  record(success: boolean, latencyMs: number, now = Date.now()): void {
    this.at.push(now);
    this.ok.push(success);
    this.ms.push(latencyMs);
    if (this.at.length > MAX_SAMPLES * 2) {
      this.at = this.at.slice(-MAX_SAMPLES);
      this.ok = this.ok.slice(-MAX_SAMPLES);
      this.ms = this.ms.slice(-MAX_SAMPLES);
    }
  }

  stats(windowMs: number, now = Date.now()): WindowStats {
    const since = now - windowMs;
    let errors = 0;
    const latencies: number[] = [];
    for (let i = this.at.length - 1; i >= 0 && this.at[i]! >= since; i--) {
      if (!this.ok[i]) errors++;
      latencies.push(this.ms[i]!);
    }
    const n = latencies.length;
    if (n === 0) return { requests: 0, errorRate: null, p99Ms: null };
    latencies.sort((a, b) => a - b);
    return { requests: n, errorRate: errors / n, p99Ms: latencies[Math.min(n - 1, Math.floor(n * 0.99))]! };
  }
}

/** Why the canary is worse than the baseline beyond the plan's margins; undefined while it is not (or too few calls). */
export function verdict(settings: RolloutSettings, canary: WindowStats, baseline: WindowStats): string | undefined {
  if (canary.requests < settings.minRequests || baseline.requests < settings.minRequests) return undefined;
  const ce = canary.errorRate!;
  const be = baseline.errorRate!;
  if (ce - be > settings.maxErrorRateIncrease) {
    return `canary ${settings.canary} error rate ${(ce * 100).toFixed(1)}% vs baseline ${settings.baseline} ${(be * 100).toFixed(1)}% (margin ${(settings.maxErrorRateIncrease * 100).toFixed(1)}%, ${canary.requests}/${baseline.requests} requests)`;
  }
  if (canary.p99Ms! - baseline.p99Ms! > settings.maxP99IncreaseMs) {
    return `canary ${settings.canary} p99 ${canary.p99Ms!.toFixed(1)} ms vs baseline ${settings.baseline} ${baseline.p99Ms!.toFixed(1)} ms (margin ${settings.maxP99IncreaseMs} ms)`;
  }
  return undefined;
}
