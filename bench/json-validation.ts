// What checking a JSON body against its zod schema costs on the event loop, with Tiffin's fast path
// (src/service/zod-fast-check.ts) against zod's safeParse, side by side on the same parsed values. Also the
// whole read of a body (JSON.parse and the check), which is what a request pays. Run: npm run bench -- json-validation
import { z } from 'zod';
import { compileFastCheck, NOT_SURE, type FastCheck } from '../src/service/zod-fast-check.ts';
import { fixed, markdownTable } from './lib/table.ts';

const ROUNDS = 7;
const VALUES = 500; // distinct parsed bodies per case, so no one object stays hot in the cache

interface Case {
  name: string;
  schema: z.ZodType;
  body: (i: number) => unknown;
}

const floats = (n: number, i: number) => Array.from({ length: n }, (_, j) => Number(Math.sin(i + j * 0.37).toFixed(6)));
const cases: Case[] = [
  { name: 'batching benchmark body: 256 numbers', schema: z.object({ input: z.array(z.number()).length(256) }), body: (i) => ({ input: floats(256, i) }) },
  { name: '28x28 image as nested arrays', schema: z.object({ image: z.array(z.array(z.number().min(0).max(1)).length(28)).length(28) }), body: (i) => ({ image: Array.from({ length: 28 }, (_, r) => floats(28, i + r).map(Math.abs)) }) },
  {
    name: 'a record of named features',
    schema: z.object({ sepal_length: z.number(), sepal_width: z.number(), petal_length: z.number(), petal_width: z.number(), id: z.string().max(64).optional() }),
    body: (i) => ({ sepal_length: 5.1 + i / 1000, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2, id: `row-${i}` }),
  },
  {
    name: '32 records in a batch',
    schema: z.array(z.object({ text: z.string().min(1), lang: z.string().length(2).nullable() })).max(64),
    body: (i) => Array.from({ length: 32 }, (_, j) => ({ text: `review ${i}-${j}: fine`, lang: j % 3 ? 'en' : null })),
  },
];

/** Nanoseconds per call of fn over the values, the median of ROUNDS rounds interleaved with the other side. */
function nsPerCall(fns: ((v: unknown) => unknown)[], values: unknown[]): number[] {
  const calls = Math.max(20_000, Math.round(2_000_000 / JSON.stringify(values[0]).length));
  const samples = fns.map(() => [] as number[]);
  for (let round = -1; round < ROUNDS; round++) {
    for (const [k, fn] of fns.entries()) {
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) fn(values[i % values.length]);
      const ns = ((performance.now() - t0) * 1e6) / calls;
      if (round >= 0) samples[k]!.push(ns); // round -1 warms up
    }
  }
  return samples.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]!);
}

const rows: string[][] = [];
for (const c of cases) {
  const fast = compileFastCheck(c.schema) as FastCheck;
  const values = Array.from({ length: VALUES }, (_, i) => c.body(i));
  for (const v of values) {
    // The fast path must agree with zod here, or the comparison means nothing.
    if (fast(v) === NOT_SURE || !c.schema.safeParse(v).success) throw new Error(`${c.name}: a sample body is not valid`);
  }
  const texts = values.map((v) => JSON.stringify(v));
  const [zodNs, fastNs] = nsPerCall([(v) => c.schema.safeParse(v), (v) => fast(v)], values);
  const [zodRead, fastRead] = nsPerCall([(t) => c.schema.safeParse(JSON.parse(t as string)), (t) => fast(JSON.parse(t as string))], texts);
  rows.push([c.name, fixed(zodNs! / 1000, 2), fixed(fastNs! / 1000, 2), fixed(zodNs! / fastNs!, 1), fixed(zodRead! / 1000, 2), fixed(fastRead! / 1000, 2), fixed(zodRead! / fastRead!, 2)]);
}

console.log(`json-validation: ${new Date().toISOString()}, Node ${process.version}, median of ${ROUNDS} interleaved rounds\n`);
console.log(
  markdownTable(['body', 'zod µs', 'fast path µs', 'zod / fast', 'JSON.parse + zod µs', 'JSON.parse + fast µs', 'ratio'], rows),
);
