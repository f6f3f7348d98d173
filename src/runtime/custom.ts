// The `custom` runtime: models that are code (rules, heuristics, wrappers around other libraries).
// A TypeScript or JavaScript module, stored with its files, whose default export is a class, an object of
// methods, or a single function. Loading it runs user code, so only load models you trust.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { Signature, TensorSpec, Tensors } from './tensor.ts';
import type { Model, ModelDescriptor, PrepareInput, PreparedModel, Runtime } from './types.ts';
import { asModelOutputs, type ModelOutputs } from './model-outputs.ts';

/** What a custom model class receives in `setup`, to find files saved beside it. */
export interface CustomModelContext {
  dir: string;
  manifest: ModelDescriptor | undefined;
}

/** Optional hooks a custom model may define besides its methods. */
export interface CustomModelHooks {
  setup?(ctx: CustomModelContext): unknown;
  dispose?(): unknown;
}

type MethodTable = Record<string, (input: unknown) => unknown>;

const ENTRY_CANDIDATES = ['model.ts', 'model.mts', 'model.js', 'model.mjs', 'index.ts', 'index.mts', 'index.js', 'index.mjs'];
const HOOKS = new Set(['constructor', 'setup', 'dispose']);

async function findEntry(dir: string, entry?: string): Promise<string> {
  if (entry) return entry;
  const files = new Set(await readdir(dir));
  const found = ENTRY_CANDIDATES.find((f) => files.has(f));
  if (found) return found;
  const scripts = [...files].filter((f) => /\.(m?[jt]s)$/.test(f));
  if (scripts.length === 1) return scripts[0]!;
  throw new TiffinError('MODEL_INVALID', `cannot tell which file of ${dir} is the model's module; name it with --entry (looked for ${ENTRY_CANDIDATES.join(', ')})`);
}

interface Instantiated {
  methods: MethodTable;
  hooks: CustomModelHooks;
  declared: Record<string, Partial<Signature>>;
}

/** Turns the module's default export into a table of callable methods. */
async function instantiate(path: string, ctx: CustomModelContext): Promise<Instantiated> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `could not import custom model ${path}: ${messageOf(err)}`, { cause: err });
  }
  const exported = mod.default;
  const declared = { ...((mod.signatures as Record<string, Partial<Signature>> | undefined) ?? {}) };
  let target: Record<string, unknown>;
  if (typeof exported === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(exported))) {
    const Ctor = exported as new () => Record<string, unknown>;
    Object.assign(declared, (Ctor as unknown as { signatures?: Record<string, Partial<Signature>> }).signatures ?? {});
    target = new Ctor();
  } else if (typeof exported === 'function') {
    target = { run: exported };
  } else if (exported && typeof exported === 'object') {
    target = exported as Record<string, unknown>;
  } else {
    throw new TiffinError('MODEL_INVALID', `custom model ${path} must export default a class, an object of methods, or a function`);
  }
  const methods: MethodTable = {};
  const names = new Set<string>(Object.keys(target));
  for (let proto = Object.getPrototypeOf(target); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const n of Object.getOwnPropertyNames(proto)) names.add(n);
  }
  for (const n of names) {
    const fn = target[n];
    if (!HOOKS.has(n) && typeof fn === 'function') methods[n] = (fn as (input: unknown) => unknown).bind(target);
  }
  if (Object.keys(methods).length === 0) throw new TiffinError('MODEL_INVALID', `custom model ${path} exposes no methods`);
  const hooks = target as CustomModelHooks;
  await hooks.setup?.call(target, ctx);
  return { methods, hooks, declared };
}

function signaturesFor(methods: MethodTable, declared: Record<string, Partial<Signature>>, input: PrepareInput): Record<string, Signature> {
  const out: Record<string, Signature> = {};
  for (const name of Object.keys(methods)) {
    const d = { ...declared[name], ...input.signatures?.[name] };
    out[name] = {
      batchable: d.batchable ?? input.batchable ?? false,
      batchDim: d.batchDim ?? 0,
      inputs: d.inputs ?? [],
      outputs: d.outputs ?? [],
    };
  }
  for (const name of Object.keys(input.signatures ?? {})) {
    if (!(name in methods)) throw new TiffinError('MODEL_INVALID', `a signature names method "${name}", which the model does not have (it has ${Object.keys(methods).join(', ')})`);
  }
  return out;
}

export class CustomModel implements Model {
  readonly framework = 'custom';
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];

  constructor(
    readonly tag: string,
    readonly signatures: Record<string, Signature>,
    private readonly impl: Instantiated,
  ) {
    this.inputs = signatures.run?.inputs ?? [];
    this.outputs = signatures.run?.outputs ?? [];
  }

  async run(feeds: Tensors): Promise<ModelOutputs> {
    return asModelOutputs((await this.call('run', feeds)) as Tensors);
  }

  async call(method: string, input: unknown): Promise<unknown> {
    const fn = this.impl.methods[method];
    if (!fn) throw new TiffinError('NOT_FOUND', `model ${this.tag} has no method "${method}"; it has ${Object.keys(this.impl.methods).sort().join(', ')}`);
    try {
      return await fn(input);
    } catch (err) {
      if (err instanceof TiffinError) throw err;
      throw new TiffinError('INFERENCE_FAILED', `${this.tag}.${method} failed: ${messageOf(err)}`, { cause: err });
    }
  }

  async dispose(): Promise<void> {
    await this.impl.hooks.dispose?.();
  }
}

export const customRuntime: Runtime = {
  framework: 'custom',

  async prepare(input: PrepareInput): Promise<PreparedModel> {
    const entry = await findEntry(input.dir, input.entry);
    const path = join(input.dir, entry);
    if (!existsSync(path)) throw new TiffinError('MODEL_INVALID', `entry file ${entry} does not exist in ${input.dir}`);
    const impl = await instantiate(path, { dir: input.dir, manifest: undefined });
    try {
      return { frameworkVersion: process.version, entry, signatures: signaturesFor(impl.methods, impl.declared, input) };
    } finally {
      await impl.hooks.dispose?.();
    }
  },

  async load(dir: string, manifest: ModelDescriptor): Promise<Model> {
    const impl = await instantiate(join(dir, manifest.entry), { dir, manifest });
    return new CustomModel(`${manifest.name}:${manifest.version}`, manifest.signatures, impl);
  },
};
