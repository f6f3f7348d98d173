// A small hand-made bundle folder for the container tests. Its "tiffin" package (vendor/tiffin-0.0.0.tgz) is a
// stand-in whose bin/tiffin.js answers /livez, so `npm ci` needs no registry and the image can really start.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const FAKE_SERVER = `#!/usr/bin/env node
// Stand-in for tiffin serve: answers /livez on TIFFIN_PORT or PORT, on TIFFIN_HOST.
import { createServer } from 'node:http';
import { readdirSync } from 'node:fs';
const port = Number(process.env.TIFFIN_PORT || process.env.PORT || 3000);
createServer((req, res) => {
  if (req.url === '/livez') return res.end(JSON.stringify({ status: 'alive', uid: process.getuid(), models: readdirSync(process.argv[3] + '/models') }));
  res.writeHead(404).end();
}).listen(port, process.env.TIFFIN_HOST || '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

export interface FixtureBundle {
  dir: string;
  name: string;
  version: string;
}

/** Writes the bundle layout `tiffin build` produces (without a Dockerfile) into dir. */
export async function writeFixtureBundle(dir: string, options: { models?: boolean } = {}): Promise<FixtureBundle> {
  const name = 'iris-service';
  const version = '1';
  const pkg = join(dir, '.pkg', 'package');
  await mkdir(join(pkg, 'bin'), { recursive: true });
  await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'tiffin', version: '0.0.0', type: 'module', bin: { tiffin: 'bin/tiffin.js' } }));
  await writeFile(join(pkg, 'bin', 'tiffin.js'), FAKE_SERVER, { mode: 0o755 });
  await mkdir(join(dir, 'vendor'), { recursive: true });
  await promisify(execFile)('tar', ['-czf', join(dir, 'vendor', 'tiffin-0.0.0.tgz'), '-C', join(dir, '.pkg'), 'package']);
  await rm(join(dir, '.pkg'), { recursive: true });

  const dependencies = { tiffin: 'file:vendor/tiffin-0.0.0.tgz' };
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '0.0.0', private: true, type: 'module', dependencies }, null, 2));
  const lock = {
    name,
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name, version: '0.0.0', dependencies },
      'node_modules/tiffin': { version: '0.0.0', resolved: 'file:vendor/tiffin-0.0.0.tgz', bin: { tiffin: 'bin/tiffin.js' } },
    },
  };
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  await writeFile(join(dir, '.npmrc'), 'onnxruntime-node-install=skip\n');
  await writeFile(join(dir, 'bundle.yaml'), `name: ${name}\nversion: "${version}"\n`);
  await writeFile(join(dir, 'tiffin.yaml'), 'server:\n  port: 3000\n');
  await mkdir(join(dir, 'app'), { recursive: true });
  await writeFile(join(dir, 'app', 'service.mjs'), 'export default {};\n', { mode: 0o600 });
  if (options.models !== false) {
    await mkdir(join(dir, 'models', 'iris', '1'), { recursive: true });
    await writeFile(join(dir, 'models', 'iris', '1', 'model.yaml'), 'name: iris\nversion: "1"\n', { mode: 0o600 });
  }
  return { dir, name, version };
}
