// The `limits:` section of tiffin.yaml: each request limit by the name it has in RequestLimits.
import { z } from 'zod';
import { numeric, parseSize } from '../units/index.ts';

function count(max: number) {
  const error = `expected a whole number from 1 to ${max}`;
  return z.preprocess(numeric, z.number({ error }).int({ error }).min(1, { error }).max(max, { error }));
}

const size = z.preprocess(
  (v) => (typeof v === 'string' ? (parseSize(v) ?? v) : v),
  z.number({ error: 'expected a size in bytes, or with a unit such as 512KiB, 32MiB, 1GiB' }).int().positive({ error: 'expected a size above 0' }),
);

export const limitsSectionSchema = z.strictObject({
  maxInputs: count(100_000).optional(),
  maxOutputs: count(100_000).optional(),
  maxTensorElements: count(2 ** 40).optional(),
  maxTensorBytes: size.optional(),
  maxStringBytes: size.optional(),
  maxJsonDepth: count(10_000).optional(),
  maxParts: count(100_000).optional(),
  maxPartSize: size.optional(),
});

/** Environment variables for the limits, beside the other TIFFIN_* ones. */
export const LIMIT_ENV_VARS = {
  TIFFIN_MAX_INPUTS: 'limits.maxInputs',
  TIFFIN_MAX_OUTPUTS: 'limits.maxOutputs',
  TIFFIN_MAX_TENSOR_ELEMENTS: 'limits.maxTensorElements',
  TIFFIN_MAX_TENSOR_BYTES: 'limits.maxTensorBytes',
  TIFFIN_MAX_STRING_BYTES: 'limits.maxStringBytes',
  TIFFIN_MAX_JSON_DEPTH: 'limits.maxJsonDepth',
  TIFFIN_MAX_PARTS: 'limits.maxParts',
  TIFFIN_MAX_PART_SIZE: 'limits.maxPartSize',
} as const;
