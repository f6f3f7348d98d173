// A fast path for the zod schemas that JSON APIs use most: objects, arrays, numbers, strings, booleans,
// optional fields and nullable values, with length and range checks. zod checks a parsed body element by element
// through its general machinery, on the event loop, for every request and every answer: about 1.2 µs for
// `{ input: [256 numbers] }`, several times what a plain loop needs (bench/json-validation.ts).
// A supported schema is compiled into one JavaScript function, as zod itself does for objects: property reads
// with fixed names stay monomorphic, and numbers read from an array are checked where they are read instead of
// being boxed to be passed to a check. The function only ever says "valid, and this is what zod would return";
// an invalid value, or a schema with anything it does not know (refinements, transforms, defaults, formats,
// unions, coercion, ...), goes to zod, so zod's errors and every other feature stay as they are.
// src/service/zod-fast-check.test.ts compares the two on many generated values.
import type { z } from 'zod';

/** What a fast check returns when it cannot vouch for a value: zod decides. */
export const NOT_SURE: unique symbol = Symbol('not sure');

/** The value zod's safeParse would return as `data`, or NOT_SURE. */
export type FastCheck = (value: unknown) => unknown;

/** A UTF-16 surrogate: zod measures strings in code points, and without surrogates the two lengths agree. */
const SURROGATE = /[\uD800-\uDFFF]/;

// ---- What a schema asks for, in the subset the fast path knows ----

type Node =
  /** Each test passes when `value op bound` is true (zod's greater_than and less_than). */
  | { kind: 'number'; tests: { op: '>=' | '>' | '<=' | '<'; bound: number }[]; safeInt: boolean }
  | { kind: 'string'; min: number; max: number }
  | { kind: 'boolean' }
  | { kind: 'nullable'; inner: Node }
  | { kind: 'array'; element: Node; min: number; max: number }
  | { kind: 'object'; fields: { key: string; optional: boolean; node: Node }[] };

type Def = Readonly<Record<string, unknown>> & { readonly type: string };

function defOf(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

/** A def with only these keys (and a custom error message, which changes nothing for a valid value). */
function hasOnly(def: Def, keys: readonly string[]): boolean {
  return Object.keys(def).every((k) => k === 'error' || keys.includes(k));
}

function checksOf(def: Def): Def[] | undefined {
  const defs = ((def.checks ?? []) as unknown[]).map(defOf);
  return defs.every((d): d is Def => d !== undefined) ? defs : undefined;
}

/** [min, max] from length checks, or undefined when another check is present. */
function lengthBounds(def: Def): [number, number] | undefined {
  const checks = checksOf(def);
  if (!checks) return undefined;
  let min = 0;
  let max = Infinity;
  for (const c of checks) {
    if (c.check === 'length_equals' && Number.isInteger(c.length)) [min, max] = [Math.max(min, c.length as number), Math.min(max, c.length as number)];
    else if (c.check === 'min_length' && Number.isInteger(c.minimum)) min = Math.max(min, c.minimum as number);
    else if (c.check === 'max_length' && Number.isInteger(c.maximum)) max = Math.min(max, c.maximum as number);
    else return undefined;
  }
  return [min, max];
}

function numberNode(def: Def): Node | undefined {
  if (!hasOnly(def, ['type', 'checks', 'coerce']) || def.coerce) return undefined;
  const checks = checksOf(def);
  if (!checks) return undefined;
  const node = { kind: 'number' as const, tests: [] as { op: '>=' | '>' | '<=' | '<'; bound: number }[], safeInt: false };
  for (const c of checks) {
    const bound = c.value;
    if (c.check === 'greater_than' && typeof bound === 'number') node.tests.push({ op: c.inclusive ? '>=' : '>', bound });
    else if (c.check === 'less_than' && typeof bound === 'number') node.tests.push({ op: c.inclusive ? '<=' : '<', bound });
    else if (c.check === 'number_format' && c.format === 'safeint') node.safeInt = true;
    else return undefined;
  }
  return node;
}

function objectNode(def: Def, schema: unknown, depth: number): Node | undefined {
  // No catchall: zod's default, which drops unknown keys. Checks on the object are refinements.
  if (!hasOnly(def, ['type', 'shape', 'checks']) || checksOf(def)?.length !== 0) return undefined;
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  if (!shape || Object.getOwnPropertySymbols(shape).length > 0) return undefined;
  const fields: { key: string; optional: boolean; node: Node }[] = [];
  for (const [key, field] of Object.entries(shape)) {
    if (key === '__proto__') return undefined;
    const fieldDef = defOf(field);
    if (!fieldDef) return undefined;
    const optional = fieldDef.type === 'optional';
    if (optional && !hasOnly(fieldDef, ['type', 'innerType'])) return undefined;
    // zod's own view of the field must agree: absent allowed exactly when it is optional.
    const { optin, optout } = (field as { _zod: { optin?: string; optout?: string } })._zod;
    const expected = optional ? 'optional' : undefined;
    if (optin !== expected || optout !== expected) return undefined;
    const node = analyse(optional ? fieldDef.innerType : field, depth + 1);
    if (!node) return undefined;
    fields.push({ key, optional, node });
  }
  return { kind: 'object', fields };
}

/** Deeper than this, a schema is taken to be recursive (a getter in a shape, for a tree) and left to zod. */
const MAX_DEPTH = 32;

function analyse(schema: unknown, depth = 0): Node | undefined {
  if (depth >= MAX_DEPTH) return undefined;
  const def = defOf(schema);
  switch (def?.type) {
    case 'number':
      return numberNode(def);
    case 'string': {
      if (!hasOnly(def, ['type', 'checks', 'coerce']) || def.coerce) return undefined;
      const bounds = lengthBounds(def);
      return bounds && { kind: 'string', min: bounds[0], max: bounds[1] };
    }
    case 'boolean':
      return hasOnly(def, ['type', 'checks', 'coerce']) && !def.coerce && checksOf(def)?.length === 0 ? { kind: 'boolean' } : undefined;
    case 'nullable': {
      // An optional inside is left to zod (there is no case for it here).
      const inner = hasOnly(def, ['type', 'innerType']) ? analyse(def.innerType, depth + 1) : undefined;
      return inner && { kind: 'nullable', inner };
    }
    case 'array': {
      const element = hasOnly(def, ['type', 'element', 'checks']) ? analyse(def.element, depth + 1) : undefined;
      const bounds = lengthBounds(def);
      return element && bounds && { kind: 'array', element, min: bounds[0], max: bounds[1] };
    }
    case 'object':
      return objectNode(def, schema, depth);
    default:
      return undefined;
  }
}

// ---- The compiled check ----

/** Whether zod returns such a value itself (primitives, and arrays of them, are returned as they came). */
function unchanged(node: Node): boolean {
  if (node.kind === 'object') return false;
  if (node.kind === 'nullable') return unchanged(node.inner);
  if (node.kind === 'array') return unchanged(node.element);
  return true;
}

/** A number as JavaScript source (bounds come from the schema, never from a request). */
function literal(n: number): string {
  return Number.isNaN(n) ? 'NaN' : n === Infinity ? 'Infinity' : n === -Infinity ? '-Infinity' : String(n);
}

class Emitter {
  private names = 0;

  name(prefix: string): string {
    return `${prefix}${this.names++}`;
  }

  /** Statements that check the value in variable `x` (returning NOT_SURE when they cannot vouch for it), and the
   * expression for what zod would return. */
  emit(node: Node, x: string): { code: string; out: string } {
    switch (node.kind) {
      case 'number': {
        // Written as "fails unless": a NaN bound then fails every value, as it does in zod.
        const tests = node.tests.map((t) => ` || !(${x} ${t.op} ${literal(t.bound)})`).join('');
        const int = node.safeInt ? ` || !Number.isSafeInteger(${x})` : '';
        return { code: `if (typeof ${x} !== 'number' || !Number.isFinite(${x})${tests}${int}) return NOT_SURE;\n`, out: x };
      }
      case 'string': {
        const bounded = node.min > 0 || node.max < Infinity;
        const length = bounded ? ` || ${x}.length < ${node.min} || ${x}.length > ${literal(node.max)} || SURROGATE.test(${x})` : '';
        return { code: `if (typeof ${x} !== 'string'${length}) return NOT_SURE;\n`, out: x };
      }
      case 'boolean':
        return { code: `if (typeof ${x} !== 'boolean') return NOT_SURE;\n`, out: x };
      case 'nullable': {
        const inner = this.emit(node.inner, x);
        if (inner.out === x) return { code: `if (${x} !== null) {\n${inner.code}}\n`, out: x };
        const r = this.name('r');
        return { code: `let ${r} = null;\nif (${x} !== null) {\n${inner.code}${r} = ${inner.out};\n}\n`, out: r };
      }
      case 'array': {
        const [i, e] = [this.name('i'), this.name('e')];
        const element = this.emit(node.element, e);
        const length = `${node.min > 0 ? ` || ${x}.length < ${node.min}` : ''}${node.max < Infinity ? ` || ${x}.length > ${node.max}` : ''}`;
        let code = `if (!Array.isArray(${x})${length}) return NOT_SURE;\n`;
        if (unchanged(node.element)) {
          code += `for (let ${i} = 0; ${i} < ${x}.length; ${i}++) {\nconst ${e} = ${x}[${i}];\n${element.code}}\n`;
          return { code, out: x };
        }
        // zod answers with a new array; with objects in it (stripped of unknown keys), so does this.
        const r = this.name('r');
        code += `const ${r} = [];\nfor (let ${i} = 0; ${i} < ${x}.length; ${i}++) {\nconst ${e} = ${x}[${i}];\n${element.code}${r}.push(${element.out});\n}\n`;
        return { code, out: r };
      }
      case 'object': {
        const r = this.name('r');
        let code = `if (typeof ${x} !== 'object' || ${x} === null || Array.isArray(${x})) return NOT_SURE;\nconst ${r} = {};\n`;
        for (const f of node.fields) {
          const key = JSON.stringify(f.key);
          const v = this.name('v');
          const field = this.emit(f.node, v);
          // A key that is there and undefined follows rules of zod's own: let zod apply them.
          const body = `const ${v} = ${x}[${key}];\nif (${v} === undefined) return NOT_SURE;\n${field.code}${r}[${key}] = ${field.out};\n`;
          code += f.optional ? `if (${key} in ${x}) {\n${body}}\n` : body;
        }
        return { code, out: r };
      }
    }
  }
}

/** A fast check for `schema`, or undefined when it uses anything the fast path does not know (or when code
 * generation is not allowed in this process). */
export function compileFastCheck(schema: z.ZodType): FastCheck | undefined {
  try {
    const node = analyse(schema);
    if (!node) return undefined;
    const { code, out } = new Emitter().emit(node, 'value');
    const source = `'use strict';\nreturn function fastCheck(value) {\n${code}return ${out};\n};`;
    // The source holds no request data: only the schema's keys (as JSON string literals) and numbers.
    return new Function('NOT_SURE', 'SURROGATE', source)(NOT_SURE, SURROGATE) as FastCheck;
  } catch {
    // zod's internals are not a public API: if they ever look different, zod alone checks.
    return undefined;
  }
}
