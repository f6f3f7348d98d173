// Composition helpers for handlers that chain steps and dependencies. Plain async code already composes; these
// exist where they make it shorter: a typed chain of steps, named fan-out/fan-in, and a bounded map over a list.
import { TiffinError } from '../errors/index.ts';

type Step<A, B> = (input: A) => B | Promise<B>;

/** Steps run one after another, each taking the previous one's result: `sequence(detect, crop, recognize)`. */
export function sequence<A, B>(s1: Step<A, B>): (input: A) => Promise<B>;
export function sequence<A, B, C>(s1: Step<A, B>, s2: Step<B, C>): (input: A) => Promise<C>;
export function sequence<A, B, C, D>(s1: Step<A, B>, s2: Step<B, C>, s3: Step<C, D>): (input: A) => Promise<D>;
export function sequence<A, B, C, D, E>(s1: Step<A, B>, s2: Step<B, C>, s3: Step<C, D>, s4: Step<D, E>): (input: A) => Promise<E>;
export function sequence<A, B, C, D, E, F>(s1: Step<A, B>, s2: Step<B, C>, s3: Step<C, D>, s4: Step<D, E>, s5: Step<E, F>): (input: A) => Promise<F>;
export function sequence(...steps: Step<unknown, unknown>[]): (input: unknown) => Promise<unknown> {
  return async (input) => {
    let value = input;
    for (const step of steps) value = await step(value);
    return value;
  };
}

/**
 * Fan-out/fan-in by name: starts every branch at once and resolves with their results under the same keys, so
 * `const { fraud, churn } = await parallel({ fraud: () => ..., churn: () => ... })` keeps each result's type. The
 * first failure rejects it (the error as thrown, so a dependency's 502 stays a 502); the others still settle.
 */
export async function parallel<T extends Record<string, () => unknown>>(branches: T): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const keys = Object.keys(branches);
  const results = await Promise.all(keys.map((k) => branches[k]!()));
  return Object.fromEntries(keys.map((k, i) => [k, results[i]])) as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
}

/**
 * `fn` over every item, at most `concurrency` at a time, results in the items' order. Use it to fan a list out to
 * a dependency or a model without flooding it (the adaptive batcher still merges what is in flight).
 */
export async function mapConcurrent<T, R>(items: readonly T[], fn: (item: T, index: number) => R | Promise<R>, { concurrency = 16 } = {}): Promise<R[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TiffinError('BAD_REQUEST', `mapConcurrent: concurrency must be a whole number above 0, got ${concurrency}`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
