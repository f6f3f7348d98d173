// Shared pieces of the service end-to-end tests: servers on a loopback port, an in-memory model provider,
// a real model store in a temp folder, and small PNGs drawn with sharp.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { Models } from '../../src/models/index.ts';
import type { Tensors } from '../../src/runtime/tensor.ts';
import type { ModelHandle } from '../../src/runtime/types.ts';
import { startServer, type RunningServer, type ServerOptions } from '../../src/serving/index.ts';
import type { ModelProvider } from '../../src/service/index.ts';
import type { ApiMap, ModelTags, Service } from '../../src/service/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { asModelOutputs } from '../../src/runtime/model-outputs.ts';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ADDER_MODEL_DIR = join(FIXTURES, 'adder-model');

/** Starts `svc` on 127.0.0.1 with a free port and silent logs; closed when the test ends. */
export async function serve<M extends ModelTags, A extends ApiMap>(
  t: TestContext,
  svc: Service<M, A>,
  options: ServerOptions = {},
): Promise<RunningServer> {
  const server = await startServer(svc, { port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownGraceMs: 2_000, ...options });
  t.after(() => server.close());
  return server;
}

/** A ModelHandle backed by plain functions, for tests that are about HTTP rather than models. */
export function fakeModel(tag: string, methods: Record<string, (input: unknown) => unknown>): ModelHandle {
  return {
    tag,
    framework: 'fake',
    signatures: {},
    inputs: [],
    outputs: [],
    async run(feeds: Tensors) {
      const run = methods.run;
      if (!run) throw new Error(`${tag} has no run`);
      return asModelOutputs((await run(feeds)) as Tensors);
    },
    async call(method: string, input: unknown) {
      const fn = methods[method];
      if (!fn) throw new Error(`${tag} has no ${method}`);
      return fn(input);
    },
  };
}

/** A provider that hands out the given handles; `opened`/`closed` record what happened. */
export function fakeProvider(handles: Record<string, ModelHandle>, beforeOpen?: () => Promise<void>): ModelProvider & { closed: boolean; opened: number } {
  const provider = {
    closed: false,
    opened: 0,
    async open() {
      await beforeOpen?.();
      provider.opened += 1;
      return {
        handles,
        close: async () => {
          provider.closed = true;
        },
      };
    },
  };
  return provider;
}

/** A temp TIFFIN_HOME holding the adder custom model as adder:1. */
export async function storeWithAdder(t: TestContext): Promise<{ home: string; models: Models }> {
  const home = await mkdtemp(join(tmpdir(), 'tiffin-service-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const models = new Models(new ModelStore(join(home, 'models')));
  await models.save('adder:1', ADDER_MODEL_DIR, { framework: 'custom' });
  return { home, models };
}

/** A PNG of `width` x `height` filled with one colour. */
export async function png(width: number, height: number, rgb: [number, number, number] = [200, 100, 50]): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toBuffer();
}

export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Reads an error response and checks the shape every error shares. */
export async function errorOf(res: Response): Promise<{ code: string; message: string; requestId: string; details?: unknown; stack?: string }> {
  const body = (await res.json()) as { code: string; message: string; requestId: string; details?: unknown; stack?: string };
  if (typeof body.code !== 'string' || typeof body.message !== 'string' || typeof body.requestId !== 'string') {
    throw new Error(`not an error body: ${JSON.stringify(body)}`);
  }
  if (body.requestId !== res.headers.get('x-request-id')) throw new Error('error requestId differs from x-request-id');
  return body;
}
