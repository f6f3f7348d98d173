// The service builder: `service(name, { models })` then `.api(...)`, `.task(...)`, `.onStartup(...)`, `.onShutdown(...)`.
// Each call returns a new Service whose type carries every API so far, which is what the typed client reads.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { parseTag } from '../store/tag.ts';
import type { DependencyMap, LifecycleContext, ModelTags, RequestContext } from './context.ts';
import { JsonIO } from './io-json.ts';
import type { InputIO, OutputIO } from './io-types.ts';
import { TASK_ACTIONS, defineTask, type TaskConfig, type TaskDefinition } from './task-definition.ts';

/** An API input: an input kind from `io`, or a zod schema (a JSON body). */
export type InputSpec = InputIO | z.ZodType;
/** An API output: an output kind from `io`, or a zod schema (a JSON body). */
export type OutputSpec = OutputIO | z.ZodType;

/** What the handler receives for an input. */
export type InputValue<I> = I extends z.ZodType ? z.output<I> : I extends InputIO<infer V, unknown> ? V : never;
/** What a client sends for an input. */
export type InputWire<I> = I extends z.ZodType ? z.input<I> : I extends InputIO<unknown, infer W> ? W : never;
/** What the handler returns for an output. */
export type OutputReturn<O> = O extends z.ZodType ? z.input<O> : O extends OutputIO<infer R, unknown> ? R : never;
/** What a client receives for an output. */
export type OutputWire<O> = O extends z.ZodType ? z.output<O> : O extends OutputIO<unknown, infer W> ? W : never;

export type Handler<M extends ModelTags, I, O, D extends DependencyMap = Empty> = (
  input: InputValue<I>,
  ctx: RequestContext<M, D>,
) => OutputReturn<O> | Promise<OutputReturn<O>>;

export interface ApiConfig<M extends ModelTags, I extends InputSpec, O extends OutputSpec, D extends DependencyMap = Empty> {
  input: I;
  output: O;
  /** One line for the docs (OpenAPI summary). */
  summary?: string;
  /** Longer text for the docs (OpenAPI description, Markdown). */
  description?: string;
  /** Groups APIs in the docs. */
  tags?: string[];
  /** The HTTP path; default `/<name>`. Clients need the same value in their `routes` option. */
  route?: string;
  /** Answer 504 when a request has not started its response within this many milliseconds; its model calls are
   * cancelled (queued work is dropped, not run). Default: the server's apiTimeoutMs. A client may ask for less
   * with the `x-tiffin-timeout-ms` header, never for more. */
  timeoutMs?: number;
  /** Requests of this API in progress at most; more are answered 429 with Retry-After. Default: no limit. */
  maxConcurrency?: number;
  handler: Handler<M, I, O, D>;
}

/** What the typed client knows of one API, as types only. */
export interface ApiTypes<In, Out, Streamed extends boolean> {
  input: In;
  output: Out;
  streamed: Streamed;
}

export type ApiTypesOf<I, O> = ApiTypes<InputWire<I>, OutputWire<O>, O extends { kind: 'stream' } ? true : false>;

/** What the typed client knows of one task: its input and its result, as sent and received. */
export interface TaskTypes<In, Out> extends ApiTypes<In, Out, false> {
  task: true;
}

export type ApiMap = Record<string, ApiTypes<unknown, unknown, boolean>>;
/** What a new service starts with: no models, no APIs. */
export type Empty = {};

/** An API as the server runs it. */
export interface ApiDefinition {
  readonly name: string;
  readonly route: string;
  readonly input: InputIO;
  readonly output: OutputIO;
  readonly summary: string | undefined;
  readonly description: string | undefined;
  readonly tags: readonly string[];
  readonly timeoutMs: number | undefined;
  readonly maxConcurrency: number | undefined;
  readonly handler: (input: unknown, ctx: RequestContext<ModelTags>) => unknown;
}

export type LifecycleHook<M extends ModelTags, D extends DependencyMap = Empty> = (ctx: LifecycleContext<M, D>) => unknown;

export interface ServiceOptions<M extends ModelTags, D extends DependencyMap = Empty> {
  /** Models to load before the service is ready: key (used as `ctx.models.<key>`) -> store tag. */
  models?: M;
  /** Services this one calls, as `ctx.services.<key>.<api>(input)` with their own types. `tiffin serve` runs them
   * in the same process, each in its own process with --split, or reaches them at `dependencies.<key>.url`. */
  depends?: D;
  description?: string;
  /** Shown in the docs; default 0.0.0. */
  version?: string;
}

/** Paths the server owns, which no API may take. */
export const RESERVED_PATHS = ['/livez', '/readyz', '/healthz', '/docs', '/docs.json'] as const;
/** Names the typed client uses itself, so no API can be called that. */
export const RESERVED_API_NAMES = ['waitUntilReady', 'then', 'livez', 'readyz', 'healthz', 'docs'] as const;

const NAME_PATTERN = /^[A-Za-z_][\w-]{0,62}$/;
const ROUTE_PATTERN = /^(\/[\w.~-]+)+$/;

const SERVICE_BRAND: unique symbol = Symbol.for('tiffin.service');

interface ServiceState<M extends ModelTags, D extends DependencyMap> {
  name: string;
  description: string | undefined;
  version: string;
  models: M;
  depends: D;
  apis: readonly ApiDefinition[];
  tasks: readonly TaskDefinition[];
  startupHooks: readonly LifecycleHook<ModelTags>[];
  shutdownHooks: readonly LifecycleHook<ModelTags>[];
}

function invalid(message: string): TiffinError {
  return new TiffinError('SERVICE_INVALID', message);
}

export class Service<M extends ModelTags = Empty, A extends ApiMap = Empty, D extends DependencyMap = Empty> {
  readonly [SERVICE_BRAND] = true;
  readonly name: string;
  readonly description: string | undefined;
  readonly version: string;
  readonly models: Readonly<M>;
  /** The services this one calls, by key. */
  readonly depends: Readonly<D>;
  /** APIs in the order they were declared. */
  readonly apis: readonly ApiDefinition[];
  /** Tasks in the order they were declared. */
  readonly tasks: readonly TaskDefinition[];
  /** Hooks as the server calls them (with the models the service declared, so typed by M in spirit). */
  readonly startupHooks: readonly LifecycleHook<ModelTags>[];
  readonly shutdownHooks: readonly LifecycleHook<ModelTags>[];
  /** Types only: every API's input and output as a client sees them. */
  declare readonly '~apis'?: A;

  /** Use `service(name, options)`. */
  constructor(state: ServiceState<M, D>) {
    this.name = state.name;
    this.description = state.description;
    this.version = state.version;
    this.models = state.models;
    this.depends = state.depends;
    this.apis = state.apis;
    this.tasks = state.tasks;
    this.startupHooks = state.startupHooks;
    this.shutdownHooks = state.shutdownHooks;
  }

  private state(): ServiceState<M, D> {
    return {
      name: this.name, description: this.description, version: this.version, models: this.models, depends: this.depends,
      apis: this.apis, tasks: this.tasks, startupHooks: this.startupHooks, shutdownHooks: this.shutdownHooks,
    };
  }

  /** Adds an API: a POST route whose body is read by `input`, answered by `handler`, and written by `output`. */
  api<const N extends string, I extends InputSpec, O extends OutputSpec>(
    name: N,
    config: ApiConfig<M, I, O, D>,
  ): Service<M, { [K in keyof A | N]: K extends N ? ApiTypesOf<I, O> : K extends keyof A ? A[K] : never }, D> {
    const route = this.checkNameAndRoutes('API', name, config.route ?? `/${name}`, (r) => [r]);
    const input = toInput(config.input, name);
    const output = toOutput(config.output, name);
    if (typeof config.handler !== 'function') throw invalid(`API "${name}" needs a handler function`);
    const handler = config.handler;
    for (const key of ['timeoutMs', 'maxConcurrency'] as const) {
      const v = config[key];
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw invalid(`API "${name}": ${key} must be a whole number above 0, got ${String(v)}`);
    }
    const definition: ApiDefinition = {
      name,
      route,
      input,
      output,
      summary: config.summary,
      description: config.description,
      tags: config.tags ?? [],
      timeoutMs: config.timeoutMs,
      maxConcurrency: config.maxConcurrency,
      // The input was parsed by `input` and the context built for M: the types line up by construction.
      handler: (value, ctx) => handler(value as InputValue<I>, ctx as unknown as RequestContext<M, D>),
    };
    return new Service({ ...this.state(), apis: [...this.apis, definition] });
  }

  /** Adds a task: a long job submitted at `POST <route>/submit` (answered at once with its id), run in the
   * background with `concurrency` at a time, its state and result kept in the task store (docs/tasks.md). */
  task<const N extends string, I extends z.ZodType, O extends z.ZodType>(
    name: N,
    config: TaskConfig<M, I, O, D>,
  ): Service<M, { [K in keyof A | N]: K extends N ? TaskTypes<z.input<I>, z.output<O>> : K extends keyof A ? A[K] : never }, D> {
    const route = this.checkNameAndRoutes('task', name, config.route ?? `/${name}`, taskRoutes);
    return new Service({ ...this.state(), tasks: [...this.tasks, defineTask(name, route, config)] });
  }

  /** Checks a new API's or task's name and the paths it will take against the server's and the others'. */
  private checkNameAndRoutes(kind: 'API' | 'task', name: string, route: string, pathsOf: (route: string) => string[]): string {
    if (!NAME_PATTERN.test(name)) throw invalid(`${kind} name "${name}" must start with a letter or _ and hold only letters, digits, _ and - (at most 63)`);
    if ((RESERVED_API_NAMES as readonly string[]).includes(name)) throw invalid(`${kind} name "${name}" is reserved; reserved: ${RESERVED_API_NAMES.join(', ')}`);
    if (this.apis.some((a) => a.name === name)) throw invalid(`service "${this.name}" already has an API named "${name}"`);
    if (this.tasks.some((t) => t.name === name)) throw invalid(`service "${this.name}" already has a task named "${name}"`);
    if (!ROUTE_PATTERN.test(route)) throw invalid(`${kind} "${name}": route "${route}" must be a path such as /v1/classify (letters, digits, . _ ~ -; no parameters)`);
    const taken = new Map<string, string>();
    for (const a of this.apis) taken.set(a.route, `API "${a.name}"`);
    for (const t of this.tasks) for (const p of taskRoutes(t.route)) taken.set(p, `task "${t.name}"`);
    for (const path of pathsOf(route)) {
      if ((RESERVED_PATHS as readonly string[]).includes(path) || path.startsWith('/docs/')) {
        throw invalid(`${kind} "${name}": route ${path} is reserved for the server (${RESERVED_PATHS.join(', ')})`);
      }
      const clash = taken.get(path);
      if (clash) throw invalid(`${kind} "${name}": route ${path} is already taken by ${clash}`);
    }
    return route;
  }

  /** Runs after the models load and before the service reports ready (warm-up, caches). In order of registration. */
  onStartup(hook: LifecycleHook<M, D>): Service<M, A, D> {
    return new Service({ ...this.state(), startupHooks: [...this.startupHooks, eraseModels(hook)] });
  }

  /** Runs once in-flight requests have finished at shutdown, before the models are released. */
  onShutdown(hook: LifecycleHook<M, D>): Service<M, A, D> {
    return new Service({ ...this.state(), shutdownHooks: [...this.shutdownHooks, eraseModels(hook)] });
  }

  /** The task named `name`, if any. */
  findTask(name: string): TaskDefinition | undefined {
    return this.tasks.find((t) => t.name === name);
  }

  /** The API named `name`, if any. */
  findApi(name: string): ApiDefinition | undefined {
    return this.apis.find((a) => a.name === name);
  }
}

/** The paths a task with this route prefix takes. */
export function taskRoutes(route: string): string[] {
  return TASK_ACTIONS.map((action) => `${route}/${action}`);
}

/** The server opens exactly the models the service declared, so the context it builds is a context for M. */
function eraseModels<M extends ModelTags, D extends DependencyMap>(hook: LifecycleHook<M, D>): LifecycleHook<ModelTags> {
  return (ctx) => hook(ctx as unknown as LifecycleContext<M, D>);
}

function toInput(spec: InputSpec, api: string): InputIO {
  if (spec instanceof z.ZodType) return new JsonIO(spec);
  if (spec && typeof spec === 'object' && typeof spec.parse === 'function' && Array.isArray(spec.accepts)) return spec;
  throw invalid(`API "${api}": input must be a zod schema or an io.* kind`);
}

function toOutput(spec: OutputSpec, api: string): OutputIO {
  if (spec instanceof z.ZodType) return new JsonIO(spec);
  if (spec && typeof spec === 'object' && typeof spec.serialize === 'function') return spec;
  throw invalid(`API "${api}": output must be a zod schema or an io.* kind (io.stream for generators)`);
}

/** Starts a service named `name` that uses the given store models. */
export function service<const M extends ModelTags = Empty, const D extends DependencyMap = Empty>(name: string, options: ServiceOptions<M, D> = {}): Service<M, Empty, D> {
  if (!NAME_PATTERN.test(name)) throw invalid(`service name "${name}" must start with a letter or _ and hold only letters, digits, _ and - (at most 63)`);
  const models = (options.models ?? {}) as M;
  for (const [key, tag] of Object.entries(models)) {
    if (typeof tag !== 'string') throw invalid(`model "${key}" must name a store tag such as "iris:latest"`);
    try {
      parseTag(tag);
    } catch (err) {
      throw invalid(`model "${key}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const depends = (options.depends ?? {}) as D;
  for (const [key, dep] of Object.entries(depends)) {
    if (!NAME_PATTERN.test(key)) throw invalid(`dependency key "${key}" must start with a letter or _ and hold only letters, digits, _ and -`);
    if (!isService(dep)) throw invalid(`dependency "${key}" must be a service (the value service(...) returns), got ${typeof dep}`);
  }
  return new Service<M, Empty, D>({
    name,
    description: options.description,
    version: options.version ?? '0.0.0',
    models,
    depends,
    apis: [],
    tasks: [],
    startupHooks: [],
    shutdownHooks: [],
  });
}

/** True for a Service, even one built by another copy of this module (the brand is a global symbol). */
export function isService(value: unknown): value is Service<ModelTags, ApiMap> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SERVICE_BRAND] === true;
}
