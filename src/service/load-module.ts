// Imports a user's service module (TypeScript runs directly: bin/tiffin.js registers tsx) and finds the
// Service in it: the default export, else an export named `service`, else the only exported Service.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { ModelTags } from './context.ts';
import { isService, type ApiMap, type Service } from './service.ts';

type Exports = Record<string, unknown>;

/** The module's exports; a module compiled as CommonJS (outside a "type": "module" package) nests them in `default`. */
function exportLayers(mod: Exports): Exports[] {
  const inner = mod.default;
  return typeof inner === 'object' && inner !== null && !isService(inner) ? [mod, inner as Exports] : [mod];
}

export async function loadServiceModule(file: string): Promise<Service<ModelTags, ApiMap>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new TiffinError('SERVICE_INVALID', `service module ${file} does not exist`);
  let mod: Exports;
  try {
    mod = (await import(pathToFileURL(path).href)) as Exports;
  } catch (err) {
    if (err instanceof TiffinError) throw err;
    throw new TiffinError('SERVICE_INVALID', `could not import ${file}: ${messageOf(err)}`, { cause: err });
  }
  const layers = exportLayers(mod);
  for (const key of ['default', 'service']) {
    for (const layer of layers) {
      const value = layer[key];
      if (isService(value)) return value;
    }
  }
  const found = new Map<Service<ModelTags, ApiMap>, string>();
  for (const layer of layers) for (const [name, value] of Object.entries(layer)) if (isService(value) && !found.has(value)) found.set(value, name);
  if (found.size === 1) return [...found.keys()][0]!;
  if (found.size > 1) {
    throw new TiffinError('SERVICE_INVALID', `${file} exports several services (${[...found.values()].join(', ')}); export the one to serve as default`);
  }
  throw new TiffinError('SERVICE_INVALID', `${file} exports no service; end it with \`export default service('name', ...).api(...)\``);
}
