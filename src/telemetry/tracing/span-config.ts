// The OTEL_* variables that shape spans, read from the Tracing's own environment: which sampler
// (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG) and the span limits (OTEL_SPAN_*_LIMIT, OTEL_ATTRIBUTE_*_LIMIT),
// with the specification's names and defaults. A value that cannot be read stops start-up with CONFIG_INVALID
// naming the variable, where the SDK would log a warning and carry on with a default.
import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from '@opentelemetry/sdk-trace-base';
import { TiffinError } from '../../errors/index.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** The SDK's span limits, as the OTEL_SPAN_*_LIMIT variables give them. */
export interface SpanLimits {
  attributeCount: number;
  /** Longest string attribute value; Infinity for none. */
  attributeValueLength: number;
  eventCount: number;
  linkCount: number;
  attributesPerEvent: number;
  attributesPerLink: number;
}

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** The sampler OTEL_TRACES_SAMPLER names, or undefined when it is unset. */
export function samplerFromEnv(env: Env): Sampler | undefined {
  const name = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase();
  if (!name) return undefined;
  const ratio = (): number => {
    const raw = env.OTEL_TRACES_SAMPLER_ARG?.trim();
    if (!raw) return 1;
    const r = Number(raw);
    if (r >= 0 && r <= 1) return r;
    throw new TiffinError('CONFIG_INVALID', `OTEL_TRACES_SAMPLER_ARG='${raw}' is not a ratio from 0 to 1; unset it to trace every request`);
  };
  switch (name as (typeof SAMPLERS)[number]) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio());
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
    default:
      throw new TiffinError(
        'CONFIG_INVALID',
        `OTEL_TRACES_SAMPLER='${env.OTEL_TRACES_SAMPLER}' is not a sampler Tiffin knows; use one of ${SAMPLERS.join(', ')}, or unset it for Tiffin's default`,
      );
  }
}

/** Span limits: the span-specific variable, else the general one, else the specification's default. */
export function spanLimitsFromEnv(env: Env): SpanLimits {
  const read = (names: string[], fallback: number): number => {
    for (const name of names) {
      const raw = env[name]?.trim();
      if (!raw) continue;
      const n = Number(raw);
      if (Number.isInteger(n) && n >= 0) return n;
      throw new TiffinError('CONFIG_INVALID', `${name}='${raw}' is not a whole number of at least 0; unset it for the default or give one`);
    }
    return fallback;
  };
  const attributeCount = read(['OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'], 128);
  return {
    attributeCount,
    attributeValueLength: read(['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT'], Infinity),
    eventCount: read(['OTEL_SPAN_EVENT_COUNT_LIMIT'], 128),
    linkCount: read(['OTEL_SPAN_LINK_COUNT_LIMIT'], 128),
    attributesPerEvent: read(['OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT'], 128),
    attributesPerLink: read(['OTEL_LINK_ATTRIBUTE_COUNT_LIMIT'], 128),
  };
}
