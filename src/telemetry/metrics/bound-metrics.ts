// Counter and histogram families for the per-request path, with label sets bound once. prom-client's own
// children look their series up on every call: they build a labels object, validate it and hash it into a key
// string, which in a loaded server costs about a microsecond and a few hundred bytes of garbage per
// observation. A bound child here holds its series' numbers directly, so an observation is a bucket search and
// three additions. Both families register in a prom-client Registry as ordinary metrics (get() answers in
// prom-client's shape), so scrapes, default labels and the merge of several processes' snapshots are unchanged.
import { validateMetricName, type Registry } from 'prom-client';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type Labels = Record<string, string | number>;

interface Series<C> {
  labels: Labels;
  child: C;
}

/** What a family answers to the registry: prom-client's MetricObjectWithValues. */
interface Snapshot {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Labels; value: number; metricName?: string }[];
}

export interface BoundFamilyOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
  registry: Registry;
  /** Runs at the start of every scrape of this family, as prom-client's `collect` does. */
  collect?: () => void;
}

abstract class BoundFamily<C> {
  readonly aggregator = 'sum';
  abstract readonly type: 'counter' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  private readonly collect: (() => void) | undefined;
  /** Series in creation order, keyed by their label values. */
  protected readonly series = new Map<string, Series<C>>();

  constructor(options: BoundFamilyOptions) {
    const { name, labelNames } = options;
    if (!validateMetricName(name)) throw new Error(`invalid metric name: ${name}`);
    for (const n of labelNames) if (!LABEL_NAME.test(n) || n.startsWith('__')) throw new Error(`invalid label name: ${n}`);
    this.name = name;
    this.help = options.help;
    this.labelNames = labelNames;
    this.collect = options.collect;
    options.registry.registerMetric(this as never);
  }

  /** The child for these label values (in labelNames order), made on first use and the same object after. */
  labels(...values: (string | number)[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    }
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      s = { labels, child: this.newChild() };
      this.series.set(key, s);
    }
    return s.child;
  }

  /** Drops a series; a child already handed out keeps counting, but is no longer reported. */
  remove(...values: (string | number)[]): void {
    this.series.delete(values.join('\u0000'));
  }

  /** Zeroes every series (prom-client's registry.resetMetrics() calls it). */
  reset(): void {
    for (const s of this.series.values()) this.zero(s.child);
  }

  async get(): Promise<Snapshot> {
    this.collect?.();
    const values: Snapshot['values'] = [];
    for (const s of this.series.values()) this.report(s, values);
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  protected abstract newChild(): C;
  protected abstract zero(child: C): void;
  protected abstract report(series: Series<C>, out: Snapshot['values']): void;
}

export class BoundCounterChild {
  value = 0;

  inc(by = 1): void {
    if (!(by >= 0)) throw new Error(`a counter only goes up: inc(${by})`);
    this.value += by;
  }
}

export class BoundCounter extends BoundFamily<BoundCounterChild> {
  readonly type = 'counter';

  protected newChild(): BoundCounterChild {
    return new BoundCounterChild();
  }

  protected zero(child: BoundCounterChild): void {
    child.value = 0;
  }

  protected report(s: Series<BoundCounterChild>, out: Snapshot['values']): void {
    out.push({ labels: { ...s.labels }, value: s.child.value });
  }
}

export class BoundHistogramChild {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: Float64Array) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
    const b = this.bounds;
    let i = 0;
    // Linear: a dozen bounds, and most observations land in the first few.
    while (i < b.length && value > b[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

export class BoundHistogram extends BoundFamily<BoundHistogramChild> {
  readonly type = 'histogram';
  private readonly bounds: Float64Array;

  constructor(options: BoundFamilyOptions & { buckets: readonly number[] }) {
    if (options.labelNames.includes('le')) throw new Error(`${options.name}: 'le' is reserved for histogram buckets`);
    super(options);
    this.bounds = Float64Array.from([...new Set(options.buckets)].sort((a, b) => a - b));
  }

  protected newChild(): BoundHistogramChild {
    return new BoundHistogramChild(this.bounds);
  }

  protected zero(child: BoundHistogramChild): void {
    child.counts.fill(0);
    child.sum = 0;
    child.count = 0;
  }

  protected report({ labels, child }: Series<BoundHistogramChild>, out: Snapshot['values']): void {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += child.counts[i]!;
      out.push({ metricName: bucket, labels: { ...labels, le }, value: cumulative });
    });
    out.push({ metricName: bucket, labels: { ...labels, le: '+Inf' }, value: child.count });
    out.push({ metricName: `${this.name}_sum`, labels: { ...labels }, value: child.sum });
    out.push({ metricName: `${this.name}_count`, labels: { ...labels }, value: child.count });
  }
}
