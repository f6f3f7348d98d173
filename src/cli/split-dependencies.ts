// `tiffin serve --split`: each dependency of the served service runs as its own `tiffin serve` process on a
// loopback port, with its own runners, batching and lifecycle; the parent reaches it over HTTP with the same typed
// calls. A child serves the dependency at the path in TIFFIN_SERVE_DEPENDENCY (dotted keys) of the same module.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { TiffinError } from '../errors/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiMap, Service } from '../service/service.ts';

export const SERVE_DEPENDENCY_ENV = 'TIFFIN_SERVE_DEPENDENCY';

type AnyService = Service<ModelTags, ApiMap>;

/** The dependency at `path` (e.g. `ocr` or `ocr.det`) of `root`. */
export function dependencyAt(root: AnyService, path: string): AnyService {
  let svc = root;
  for (const key of path.split('.')) {
    const next = (svc.depends as Record<string, AnyService | undefined>)[key];
    if (!next) throw new TiffinError('SERVICE_INVALID', `${SERVE_DEPENDENCY_ENV}=${path}: service "${svc.name}" has no dependency "${key}" (it has: ${Object.keys(svc.depends).join(', ') || 'none'})`);
    svc = next;
  }
  return svc;
}

export interface SplitChildren {
  /** Dependency key -> where its process answers. */
  endpoints: Record<string, { url: string }>;
  /** SIGTERM to each child (each drains), then waits for them to exit. */
  stop(): Promise<void>;
}

/** How long a child may take to load its models and report ready. */
const START_TIMEOUT_MS = 120_000;

function startChild(key: string, args: string[], env: NodeJS.ProcessEnv, say: (line: string) => void, children: ChildProcess[]): Promise<string> {
  const child = spawn(process.execPath, args, { env: { ...env, [SERVE_DEPENDENCY_ENV]: key }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[${key}] ${line}\n`));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TiffinError('DEPENDENCY_UNAVAILABLE', `dependency "${key}" did not report ready within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      say(`[${key}] ${line.replace(/^tiffin: /, '')}`);
      const ready = /ready at (https?:\/\/\S+)/.exec(line);
      if (ready) {
        clearTimeout(timer);
        resolve(ready[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new TiffinError('DEPENDENCY_UNAVAILABLE', `dependency "${key}" exited (code ${code}) before it was ready; its output is above, prefixed [${key}]`));
    });
  });
}

/**
 * Starts a process for each dependency of `svc` that `configured` does not place elsewhere. `serveArgs` are the
 * CLI arguments that name what is served (the module or bundle, and -c); each child adds --port 0 --no-grpc.
 */
export async function startSplitDependencies(
  svc: AnyService,
  serveArgs: string[],
  configured: Record<string, unknown>,
  say: (line: string) => void,
): Promise<SplitChildren> {
  const children: ChildProcess[] = [];
  const endpoints: Record<string, { url: string }> = {};
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      c.kill('SIGTERM');
      await once(c, 'exit');
    }));
  };
  try {
    const started = await Promise.all(Object.keys(svc.depends).filter((key) => !(key in configured)).map(async (key) => {
      // The dependency's own dependencies run in its process; their configured places go with it.
      const nested = Object.entries(configured).filter(([k]) => k.startsWith(`${key}.`)).map(([k, v]) => `${k.slice(key.length + 1)}=${(v as { url: string }).url}`);
      const env = { ...process.env, ...(nested.length ? { TIFFIN_DEPENDENCIES: nested.join(',') } : {}) };
      const url = await startChild(key, [process.argv[1]!, 'serve', ...serveArgs, '--port', '0', '--host', '127.0.0.1', '--no-grpc'], env, say, children);
      return [key, url] as const;
    }));
    for (const [key, url] of started) endpoints[key] = { url };
  } catch (err) {
    await stop();
    throw err;
  }
  return { endpoints, stop };
}
