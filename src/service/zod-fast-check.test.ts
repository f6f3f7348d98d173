import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { compileFastCheck, NOT_SURE } from './zod-fast-check.ts';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NUMBERS = [0, -0, 1, -1, 0.5, -0.5, 3, 10, 11, 1e300, -1e-300, 2 ** 53, 2 ** 53 - 1, NaN, Infinity, -Infinity];
const STRINGS = ['', 'a', 'ab', 'abc', 'abcd', '😀', 'a😀', '\uD800', 'x"y\\'];
/** A surrogate as JSON.stringify writes it: a pair as is, a lone one escaped. */
const SURROGATE = /[\uD800-\uDFFF]|\\ud[89a-f]/i;
const WRONG = [null, 'x', 7, true, false, [], {}, [1], { a: 1 }];

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown) => (s as { _zod: { def: Def } })._zod.def;

/** A value shaped by `schema`, with a mistake somewhere now and then: a wrong type, a missing or extra key, an
 * odd length, a number or string at or beyond a bound. */
function sample(schema: unknown, next: () => number, depth = 0): unknown {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  if (next() < 0.03) return pick(WRONG);
  const def = defOf(schema);
  switch (def.type) {
    case 'number':
    {
      const r = next();
      return r < 0.4 ? pick(NUMBERS) : r < 0.7 ? Math.floor(next() * 15) - 2 : Math.round((next() * 6 - 3) * 4) / 4;
    }
    case 'string':
      return pick(STRINGS);
    case 'boolean':
      return next() < 0.5;
    case 'nullable':
      return next() < 0.3 ? null : sample(def.innerType, next, depth + 1);
    case 'optional':
      return sample(def.innerType, next, depth + 1);
    case 'array': {
      const n = Math.floor(next() * 6);
      return Array.from({ length: n }, () => sample(def.element, next, depth + 1));
    }
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries((schema as { shape: Record<string, unknown> }).shape)) {
        if (next() < 0.05) continue;
        Object.defineProperty(out, key, { value: sample(field, next, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      // Unknown keys (zod drops them), one of them the name JSON.parse turns into an own property.
      if (next() < 0.25) out.extra = pick(WRONG);
      if (next() < 0.1) Object.defineProperty(out, '__proto__', { value: 1, enumerable: true, writable: true, configurable: true });
      return out;
    }
    default:
      throw new Error(`no sampler for ${def.type}`);
  }
}

const SUPPORTED: Record<string, z.ZodType> = {
  'the benchmark body': z.object({ input: z.array(z.number()).length(4) }),
  'scalars with bounds, optional and nullable': z.object({
    a: z.number().int().min(0).max(10),
    b: z.string().min(1).max(3),
    c: z.boolean(),
    d: z.number().gt(-1).lt(1).optional(),
    e: z.string().nullable(),
  }),
  'an array of objects': z.array(z.object({ x: z.number().positive(), tags: z.array(z.string()).max(2) })).min(1),
  'nested, nullable, and a key named like an Object method': z.object({
    nested: z.object({ deep: z.array(z.array(z.number().nonnegative())).max(3) }).nullable(),
    toString: z.number().optional(),
    constructor: z.string().length(2).optional(),
  }),
  'keys that need quoting': z.object({ 'a"b\\': z.number(), 'line\nbreak': z.boolean().optional(), '': z.string().nullable() }),
  'a bare number': z.number().lte(3),
  'a described string': z.string().length(2).describe('two letters'),
};

describe('the zod fast path', () => {
  for (const [name, schema] of Object.entries(SUPPORTED)) {
    it(`accepts exactly what zod accepts and returns what zod returns: ${name}`, () => {
      const fast = compileFastCheck(schema);
      assert.ok(fast, 'the schema is one the fast path knows');
      const next = rng(name.length * 7919);
      let valid = 0;
      for (let i = 0; i < 6000; i++) {
        const value = sample(schema, next);
        const expected = schema.safeParse(value);
        const got: unknown = fast(value);
        const shown = () => `value ${JSON.stringify(value)} (sample ${i})`;
        if (got !== NOT_SURE) assert.ok(expected.success, `fast accepted what zod refuses: ${shown()}`);
        // Strings with surrogates under a length check are measured by zod alone (in code points).
        else assert.ok(!expected.success || SURROGATE.test(JSON.stringify(value)), `fast refused what zod accepts: ${shown()}`);
        if (!expected.success || got === NOT_SURE) continue;
        valid++;
        assert.deepStrictEqual(got, expected.data, shown());
        assert.equal(JSON.stringify(got), JSON.stringify(expected.data), `same keys in the same order: ${shown()}`);
      }
      assert.ok(valid >= 60 && valid <= 5900, `a useful mix of valid and invalid values (${valid} of 6000 valid)`);
    });
  }

  it('leaves to zod what a JSON body cannot hold: a key that is present and undefined', () => {
    const schema = z.object({ a: z.number().optional() });
    const fast = compileFastCheck(schema)!;
    assert.equal(fast({ a: undefined }), NOT_SURE);
    assert.deepStrictEqual(fast({}), {});
    assert.deepStrictEqual(fast({ a: 1, b: 2 }), { a: 1 });
  });

  it('fails every value against a NaN bound, as zod does', () => {
    const fast = compileFastCheck(z.number().min(NaN))!;
    for (const v of [0, 1, -1]) assert.equal(fast(v), NOT_SURE);
  });

  it('leaves recursive schemas to zod', () => {
    const Tree = z.object({
      name: z.string(),
      get children() {
        return z.array(Tree);
      },
    });
    assert.equal(compileFastCheck(Tree), undefined);
    assert.ok(Tree.safeParse({ name: 'a', children: [{ name: 'b', children: [] }] }).success);
    // It stops at a depth limit rather than at a stack overflow: nesting of 10 compiles, of 40 does not.
    const nested = (levels: number): z.ZodType => (levels === 0 ? z.number() : z.object({ inner: nested(levels - 1) }));
    assert.ok(compileFastCheck(nested(10)));
    assert.equal(compileFastCheck(nested(40)), undefined);
  });

  it('does not compile schemas with anything it does not know, so zod alone checks them', () => {
    const unsupported: Record<string, z.ZodType> = {
      refinement: z.object({ a: z.number() }).refine((v) => v.a > 0),
      'number refinement': z.number().refine((v) => v > 0),
      transform: z.number().transform((v) => v * 2),
      default: z.object({ a: z.number().default(1) }),
      coercion: z.coerce.number(),
      'strict object': z.strictObject({ a: z.number() }),
      'loose object': z.looseObject({ a: z.number() }),
      union: z.union([z.number(), z.string()]),
      'string format': z.email(),
      'regex check': z.string().regex(/^a/),
      'integer schema': z.int(),
      'multiple of': z.number().multipleOf(2),
      'optional at the top': z.number().optional(),
      'optional inside nullable': z.object({ a: z.number().optional().nullable() }),
      'array of optional': z.array(z.number().optional()),
      literal: z.literal(3),
      enum: z.enum(['a', 'b']),
      any: z.object({ a: z.any() }),
      lazy: z.lazy(() => z.number()),
    };
    for (const [name, schema] of Object.entries(unsupported)) assert.equal(compileFastCheck(schema), undefined, name);
  });
});
