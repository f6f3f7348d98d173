// Test helpers for the protocol suites: a temporary store with ONNX models saved into it, a repository
// over it (loading in process), and a real fastify server on 127.0.0.1 with the protocol routes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { Models } from '../models/index.ts';
import { ModelRepository, inProcessLoader, type ModelRepositoryOptions, type ServedModelConfig } from '../repository/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from './temp-dir.ts';
import { protocolRoutes, type ProtocolRoutesOptions } from '../protocols/protocol-routes.ts';

export async function tempModels(): Promise<Models> {
  return new Models(new ModelStore(await tempDir('protocol-store')));
}

/** Saves ONNX bytes as `tag` (batchable along dimension 0 unless told otherwise). */
export async function saveOnnx(models: Models, tag: string, bytes: Uint8Array, batchable = true): Promise<ModelManifest> {
  const dir = await tempDir('protocol-model');
  const file = join(dir, 'model.onnx');
  await writeFile(file, bytes);
  return models.save(tag, file, { framework: 'onnx', batchable });
}

export function repositoryOver(models: Models, served: ServedModelConfig[], options: Partial<ModelRepositoryOptions> = {}): ModelRepository {
  return new ModelRepository({
    store: models.store,
    loader: inProcessLoader(models, { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] }),
    models: served,
    pollIntervalMs: 0,
    ...options,
  });
}

export interface TestServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Starts fastify with the protocol routes over a started repository, on a free loopback port. */
export async function serveProtocols(repository: ModelRepository, options: Partial<ProtocolRoutesOptions> = {}): Promise<TestServer> {
  const app = Fastify({ logger: false });
  await app.register(protocolRoutes, { repository, ...options });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, close: () => app.close() };
}

/** fetch with a JSON body; returns status, headers and the parsed body (or text when it is not JSON). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: await readBody(res) };
}

export async function getJson(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  return { status: res.status, body: await readBody(res) };
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}
