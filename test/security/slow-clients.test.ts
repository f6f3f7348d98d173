// Slow and greedy clients from the outside: sockets that send their headers a byte at a time (slowloris) are
// closed once the header deadline passes, while other clients are served all along; connections beyond the cap
// are closed as they arrive, and the server serves again once they are gone.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { tempModels } from '../../src/testing/protocol-serving.ts';

async function serve(http: { headersTimeoutMs?: number; maxConnections?: number }): Promise<ModelServer> {
  const models = await tempModels();
  const server = await serveModels({ store: models.store, models: [], inProcess: true, http: { port: 0, logLevel: 'silent', ...http }, grpc: false });
  await server.ready;
  return server;
}

/** A socket to `port`, with `gone` settling when the server (or anyone) closes it. */
function open(port: number): Promise<Socket & { gone: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {}); // a reset from the server is what some of these tests expect
    socket.once('connect', () => resolve(Object.assign(socket, { gone: closed })));
    socket.once('error', reject);
  });
}

const isOpen = (s: Socket) => !s.destroyed && s.readyState === 'open';

test('slowloris: sockets trickling headers are closed after the header timeout; others are served meanwhile', async (t) => {
  const server = await serve({ headersTimeoutMs: 1000 });
  t.after(() => server.close());
  const port = server.http.port;
  const slow = await Promise.all(Array.from({ length: 200 }, () => open(port)));
  const drips: NodeJS.Timeout[] = [];
  for (const s of slow) {
    s.write('GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    drips.push(setInterval(() => isOpen(s) && s.write('X'), 200));
  }
  t.after(() => drips.forEach(clearInterval));
  const started = Date.now();
  // Served while the slow sockets hang on.
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${server.url}/livez`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  await Promise.all(slow.map((s) => s.gone));
  const took = Date.now() - started;
  assert.ok(took >= 800 && took < 5000, `slow sockets were closed after ${took} ms (header timeout 1000 ms, checked every second)`);
  assert.equal((await fetch(`${server.url}/livez`)).status, 200);
});

test('connections beyond maxConnections are closed as they arrive; the server serves again when they go', async (t) => {
  const server = await serve({ maxConnections: 20 });
  t.after(() => server.close());
  const port = server.http.port;
  const held = await Promise.all(Array.from({ length: 20 }, () => open(port)));
  await new Promise((r) => setTimeout(r, 100));
  const extra = await open(port).catch(() => undefined);
  if (extra) await extra.gone; // accepted by the kernel, then closed by the server at once
  await assert.rejects(fetch(`${server.url}/livez`), 'a 21st connection is refused');
  for (const s of held) s.destroy();
  await Promise.all(held.map((s) => s.gone));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await fetch(`${server.url}/livez`)).status, 200);
});
