// What the protocol adapters say about the server itself: its name and version.
import { createRequire } from 'node:module';

export interface ServerInfo {
  name: string;
  version: string;
}

const require = createRequire(import.meta.url);

/** Tiffin's name and the version in its package.json. */
export function defaultServerInfo(): ServerInfo {
  const pkg = require('../../package.json') as { name?: string; version?: string };
  return { name: pkg.name ?? 'tiffin', version: pkg.version ?? '0.0.0' };
}
