// The small API that handlers use to add their own metrics (`ctx.metrics`). Get-or-create, so a handler can
// ask for its counter on every request; a second definition that disagrees is a bug and throws.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TiffinError } from '../../errors/index.ts';

export type MetricLabels = Record<string, string | number>;

export interface UserCounter {
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
}

export interface UserGauge {
  set(value: number): void;
  set(labels: MetricLabels, value: number): void;
  inc(value?: number): void;
  inc(labels: MetricLabels, value?: number): void;
  dec(value?: number): void;
  dec(labels: MetricLabels, value?: number): void;
}

export interface UserHistogram {
  observe(value: number): void;
  observe(labels: MetricLabels, value: number): void;
  /** Starts a timer; calling the returned function observes the elapsed seconds and returns them. */
  startTimer(labels?: MetricLabels): (labels?: MetricLabels) => number;
}

export interface UserMetricOptions {
  /** Label names this metric takes; every observation must give each of them. */
  labelNames?: readonly string[];
}

export interface UserHistogramOptions extends UserMetricOptions {
  /** Upper bounds, increasing. Default: prom-client's (0.005 s .. 10 s). */
  buckets?: readonly number[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Prefixes of metrics Tiffin itself exports; user metrics may not use them. */
const RESERVED = ['tiffin_', 'process_', 'nodejs_'];

type Kind = 'counter' | 'gauge' | 'histogram';

interface Entry {
  kind: Kind;
  labelNames: string;
  buckets: string;
  metric: UserCounter | UserGauge | UserHistogram;
}

export class UserMetrics {
  private readonly entries = new Map<string, Entry>();

  /** `prefix` is put in front of every name, for example 'fraud_' (default none). */
  constructor(
    private readonly registry: Registry,
    private readonly prefix = '',
  ) {}

  /** A counter. `_total` is appended when the name lacks it, as Prometheus and OpenMetrics expect. */
  counter(name: string, help: string, options: UserMetricOptions = {}): UserCounter {
    const full = this.fullName(name.endsWith('_total') ? name : `${name}_total`);
    return this.getOrCreate(full, 'counter', help, options, '', () =>
      new Counter({ name: full, help, labelNames: [...(options.labelNames ?? [])], registers: [this.registry] }),
    ) as UserCounter;
  }

  gauge(name: string, help: string, options: UserMetricOptions = {}): UserGauge {
    const full = this.fullName(name);
    return this.getOrCreate(full, 'gauge', help, options, '', () =>
      new Gauge({ name: full, help, labelNames: [...(options.labelNames ?? [])], registers: [this.registry] }),
    ) as UserGauge;
  }

  histogram(name: string, help: string, options: UserHistogramOptions = {}): UserHistogram {
    const full = this.fullName(name);
    const buckets = options.buckets;
    if (buckets && !(buckets.length > 0 && buckets.every((b, i) => Number.isFinite(b) && (i === 0 || b > buckets[i - 1]!)))) {
      throw invalid(`histogram "${full}" buckets must be a non-empty increasing list of finite numbers`);
    }
    if (options.labelNames?.includes('le')) throw invalid(`histogram "${full}" may not use the label name "le"`);
    return this.getOrCreate(full, 'histogram', help, options, buckets?.join(',') ?? '', () =>
      new Histogram({
        name: full,
        help,
        labelNames: [...(options.labelNames ?? [])],
        registers: [this.registry],
        ...(buckets ? { buckets: [...buckets] } : {}),
      }),
    ) as UserHistogram;
  }

  private fullName(name: string): string {
    const full = this.prefix + name;
    if (!NAME.test(full) || full.startsWith('__')) throw invalid(`"${full}" is not a valid Prometheus metric name`);
    if (!this.prefix && RESERVED.some((p) => full.startsWith(p))) {
      throw invalid(`"${full}": metric names starting with ${RESERVED.join(', ')} are reserved for Tiffin's own metrics`);
    }
    return full;
  }

  private getOrCreate(
    name: string,
    kind: Kind,
    help: string,
    options: UserMetricOptions,
    buckets: string,
    create: () => UserCounter | UserGauge | UserHistogram,
  ): UserCounter | UserGauge | UserHistogram {
    const labelNames = [...(options.labelNames ?? [])];
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith('__')) throw invalid(`"${l}" is not a valid label name (metric "${name}")`);
    }
    if (!help.trim()) throw invalid(`metric "${name}" needs a help text`);
    const key = labelNames.join(',');
    const existing = this.entries.get(name);
    if (existing) {
      if (existing.kind !== kind || existing.labelNames !== key || existing.buckets !== buckets) {
        throw invalid(`metric "${name}" is already defined as a ${existing.kind} with labels [${existing.labelNames}]`, {
          defined: { kind: existing.kind, labelNames: existing.labelNames, buckets: existing.buckets },
          requested: { kind, labelNames: key, buckets },
        });
      }
      return existing.metric;
    }
    if (this.registry.getSingleMetric(name)) throw invalid(`metric "${name}" already exists in the registry`);
    const metric = create();
    this.entries.set(name, { kind, labelNames: key, buckets, metric });
    return metric;
  }
}

function invalid(message: string, details?: unknown): TiffinError {
  return new TiffinError('SERVICE_INVALID', message, details === undefined ? {} : { details });
}
