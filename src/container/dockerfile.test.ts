import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { isTiffinError } from '../errors/index.ts';
import { DEFAULT_BASE_IMAGE, renderDockerfile, renderDockerignore, type DockerfileOptions } from './dockerfile.ts';

const BASE: DockerfileOptions = { name: 'iris-service', version: '1', createdAt: '2026-12-07T09:00:00.000Z' };

/** The Dockerfile's instructions with line continuations joined and comments dropped. */
function instructions(text: string): string[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function only(text: string, keyword: string): string[] {
  return instructions(text).filter((l) => l.startsWith(`${keyword} `));
}

test('runs as a numeric non-root user, exposes HTTP and gRPC, starts node in exec form', () => {
  const text = renderDockerfile(BASE);
  const users = only(text, 'USER');
  assert.equal(users.length, 1);
  const uid = /^USER (\d+)(:\d+)?$/.exec(users[0]!);
  assert.ok(uid && Number(uid[1]) > 0, users[0]);
  assert.deepEqual(only(text, 'EXPOSE'), ['EXPOSE 3000 8001']);
  assert.deepEqual(only(text, 'ENTRYPOINT'), ['ENTRYPOINT ["node", "node_modules/tiffin/bin/tiffin.js"]']);
  assert.deepEqual(only(text, 'CMD'), ['CMD ["serve", "/bundle"]']);
  assert.ok(text.includes(`ARG BASE_IMAGE=${DEFAULT_BASE_IMAGE}`));
  assert.equal(DEFAULT_BASE_IMAGE, `node:${process.versions.node.split('.')[0]}-bookworm-slim`);
  assert.match(text, /docker run .*-p 3000:3000 .*-e TIFFIN_MANAGEMENT_TOKEN=/, 'the header says how to run it');
});

test('installs production dependencies from the lockfile before copying the app and models', () => {
  const lines = instructions(renderDockerfile(BASE));
  const at = (prefix: string) => lines.findIndex((l) => l.startsWith(prefix));
  assert.ok(at('COPY package.json package-lock.json .npmrc ./') >= 0);
  assert.ok(at('COPY vendor/ ./vendor/') >= 0);
  assert.ok(at('RUN npm ci --omit=dev') > at('COPY vendor/'));
  assert.ok(at('COPY models/ ./models/') > at('RUN npm ci'));
  assert.ok(at('COPY app/ ./app/') > at('RUN npm ci'));
  assert.ok(lines.every((l) => !l.startsWith('COPY') || !l.includes('--chown')), 'files stay owned by root');
  assert.ok(at('USER') > at('COPY bundle.yaml'), 'the user switch comes after every root-owned copy');
});

test('sets the server defaults, then the bundle env, quoted; OCI and user labels', () => {
  const text = renderDockerfile({ ...BASE, env: { GREETING: 'say "hi" to $USER \\o/', TIFFIN_LOG_LEVEL: 'debug' }, labels: { team: 'ml', 'org.example/tier': 'gold' } });
  const env = only(text, 'ENV')[0]!;
  assert.match(env, /NODE_ENV="production"/);
  assert.match(env, /TIFFIN_HOST="0\.0\.0\.0"/);
  assert.match(env, /TIFFIN_HOME="\/tmp\/tiffin"/);
  assert.ok(env.includes('GREETING="say \\"hi\\" to \\$USER \\\\o/"'), env);
  assert.ok(env.indexOf('TIFFIN_LOG_LEVEL') > env.indexOf('TIFFIN_HOST'), 'the bundle env comes last, so it wins');
  const label = only(text, 'LABEL')[0]!;
  assert.match(label, /org\.opencontainers\.image\.title="iris-service"/);
  assert.match(label, /org\.opencontainers\.image\.version="1"/);
  assert.match(label, /org\.opencontainers\.image\.created="2026-12-07T09:00:00.000Z"/);
  assert.match(label, /"team"="ml"/);
  assert.match(label, /"org\.example\/tier"="gold"/);
});

test('system packages in one cleaned apt layer, setup commands as RUN lines', () => {
  const text = renderDockerfile({ ...BASE, systemPackages: ['libgomp1', 'ca-certificates'], setup: ['mkdir -p /opt/extra', 'echo ok > /opt/extra/ok'] });
  const run = only(text, 'RUN');
  assert.ok(run.some((l) => /apt-get update .*apt-get install -y --no-install-recommends libgomp1 ca-certificates .*rm -rf \/var\/lib\/apt\/lists\/\*/.test(l)), run.join('\n'));
  assert.ok(run.includes('RUN mkdir -p /opt/extra'));
  assert.ok(run.includes('RUN echo ok > /opt/extra/ok'));
  assert.ok(!renderDockerfile(BASE).includes('apt-get'), 'no apt layer without packages');
});

test('refuses values that would inject Dockerfile instructions', () => {
  const refused: [string, DockerfileOptions][] = [
    ['env value with a newline', { ...BASE, env: { A: 'x\nRUN rm -rf /' } }],
    ['env value with a carriage return', { ...BASE, env: { A: 'x\rUSER 0' } }],
    ['env name', { ...BASE, env: { 'A B': 'x' } }],
    ['label value with a newline', { ...BASE, labels: { a: 'x\nUSER root' } }],
    ['label key with a quote', { ...BASE, labels: { 'a"b': 'x' } }],
    ['setup with a newline', { ...BASE, setup: ['true\nUSER root'] }],
    ['setup ending in a backslash', { ...BASE, setup: ['true \\'] }],
    ['system package with shell', { ...BASE, systemPackages: ['curl; rm -rf /'] }],
    ['base image with a space', { ...BASE, baseImage: 'node:20 AS x' }],
    ['name with a newline', { ...BASE, name: 'iris\nUSER root' }],
    ['createdAt with a newline', { ...BASE, createdAt: '2026\nUSER 0' }],
    ['port out of range', { ...BASE, ports: { http: 70000 } }],
  ];
  for (const [what, options] of refused) {
    assert.throws(() => renderDockerfile(options), (err) => isTiffinError(err, 'BUILD_FAILED'), what);
  }
});

test('the HEALTHCHECK asks /livez on PORT with node alone, and fails when the answer is not ok', async (t) => {
  const text = renderDockerfile(BASE);
  const health = only(text, 'HEALTHCHECK');
  assert.equal(health.length, 1);
  const argv = JSON.parse(health[0]!.slice(health[0]!.indexOf('CMD ') + 4)) as string[];
  assert.equal(argv[0], 'node');
  assert.match(argv.join(' '), /\/livez/);

  let status = 200;
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    res.writeHead(status).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = String((server.address() as AddressInfo).port);
  const probe = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, argv.slice(1), { env: { ...process.env, TIFFIN_PORT: '', ...env } }).then(() => 0, (e: { code: number }) => e.code);

  assert.equal(await probe({ PORT: port }), 0);
  assert.equal(await probe({ TIFFIN_PORT: port, PORT: '1' }), 0, 'TIFFIN_PORT wins over PORT, as in the server');
  status = 503;
  assert.equal(await probe({ PORT: port }), 1);
  assert.deepEqual([...new Set(paths)], ['/livez']);
});

test('.dockerignore keeps host node_modules out of the context', () => {
  assert.match(renderDockerignore(), /^node_modules$/m);
});
