// HTTP request metrics. Labelled by route pattern ('/v2/models/:name/infer'), never the raw URL, and by a
// closed set of methods, so a client cannot grow the number of series by sending odd URLs or verbs.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** The route label for requests that matched no route (404s). Real routes start with '/', so it cannot clash. */
export const UNMATCHED_ROUTE = 'unmatched';

type Labels = 'route' | 'method' | 'status';

/** One series' children, taken from the families once (labels()) and kept. */
interface Child {
  count: { inc(): void };
  duration: { observe(value: number): void };
}

export class HttpMetrics {
  readonly requests: Counter<Labels>;
  readonly duration: Histogram<Labels>;
  readonly inFlight: Gauge;
  /** route -> method -> status -> children: looked up without building a key string per request. */
  private readonly children = new Map<string, Map<string, Map<number, Child>>>();
  /** Kept as a plain number and copied into the gauge at scrape time: two gauge updates per request cost more. */
  private inFlightNow = 0;

  constructor(registry: Registry, durationBuckets: number[]) {
    const labelNames = ['route', 'method', 'status'] as const;
    this.requests = new Counter({
      name: 'tiffin_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status code.',
      labelNames,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'tiffin_http_request_duration_seconds',
      help: 'Time from receiving a request to finishing its response, by route pattern, method and status code.',
      labelNames,
      buckets: durationBuckets,
      registers: [registry],
    });
    const self = this;
    this.inFlight = new Gauge({
      name: 'tiffin_http_requests_in_flight',
      help: 'HTTP requests received and not yet answered.',
      registers: [registry],
      collect() {
        this.set(self.inFlightNow);
      },
    });
  }

  started(): void {
    this.inFlightNow++;
  }

  /** A request finished; `route` is the matched pattern or undefined for no match. */
  finished(route: string | undefined, method: string, status: number, seconds: number): void {
    this.inFlightNow--;
    const m = KNOWN_METHODS.has(method) ? method : 'OTHER';
    const r = route ?? UNMATCHED_ROUTE;
    let byMethod = this.children.get(r);
    if (!byMethod) this.children.set(r, (byMethod = new Map()));
    let byStatus = byMethod.get(m);
    if (!byStatus) byMethod.set(m, (byStatus = new Map()));
    let child = byStatus.get(status);
    if (!child) {
      const s = String(status);
      child = { count: this.requests.labels(r, m, s), duration: this.duration.labels(r, m, s) };
      byStatus.set(status, child);
    }
    child.count.inc();
    child.duration.observe(seconds);
  }
}
