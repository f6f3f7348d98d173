// The `runners:` section of tiffin.yaml and TIFFIN_RUNNERS: where an API server (`tiffin serve --role api`) finds
// the remote runner of each model it serves. Keys are store model names; each runner has one or more gRPC
// endpoints (host:port, or dns:///name:port, which grpc-js resolves to every address a headless Service has).
import { z } from 'zod';

/** `host:port`, `[::1]:port`, or a grpc-js target such as `dns:///iris-runner.ml.svc.cluster.local:8001`. */
const ENDPOINT = /^(dns:\/\/\/|dns:|ipv4:|ipv6:)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$/;

const endpoint = z.string().regex(ENDPOINT, { error: 'expected a gRPC endpoint host:port, such as iris-runner:8001 or dns:///iris-runner.ml.svc.cluster.local:8001' });

const runnerEntry = z.strictObject({
  endpoints: z.array(endpoint).min(1, { error: 'expected at least one endpoint' }),
  /** Sent as a Bearer token: a runner whose inference scope needs one. */
  token: z.string().min(1).optional(),
  /** Connect over TLS (grpcs), checking the runner's certificate against the system's CAs. Default false. */
  tls: z.boolean().optional(),
});

/** A runner as a bare endpoint or a list of them, or the full entry. */
const runnerValue = z.preprocess(
  (v) => (typeof v === 'string' ? { endpoints: v.split('|').map((s) => s.trim()).filter(Boolean) } : Array.isArray(v) ? { endpoints: v } : v),
  runnerEntry,
);

/** `iris=10.0.0.5:8001|10.0.0.6:8001,ocr=dns:///ocr-runner:8001` (TIFFIN_RUNNERS) reads as the mapping it spells. */
function fromText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const out: Record<string, string> = {};
  for (const pair of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return value;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export const runnersSectionSchema = z.preprocess(
  fromText,
  z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: 'expected a model name such as iris' }), runnerValue, {
    error: 'expected a mapping of model name to its runner endpoints, or name=host:port|host:port pairs separated by commas',
  }),
);

export type RunnerEndpointsConfig = z.output<typeof runnerEntry>;
export type RunnersSection = z.output<typeof runnersSectionSchema>;

/** The environment variable that sets `runners` (what generated Kubernetes manifests use). */
export const RUNNERS_ENV = 'TIFFIN_RUNNERS';
/** The Bearer token sent to runners whose entry names none (their shared inference token, from a Secret). */
export const RUNNER_TOKEN_ENV = 'TIFFIN_RUNNER_TOKEN';
