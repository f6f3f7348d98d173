// Traffic routes on every inference entry besides V2 REST, against a real server on loopback ports: gRPC ModelInfer
// (the variant in the response's parameters and in initial and trailing metadata), TF Serving's :predict, TorchServe's
// /predictions, and a service handler's ctx.models calls (sticky by a field of the API's input). Each entry splits by
// weight, keeps a sticky key on one variant, honours the override, and never reroutes a path that names a version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { linearRegression } from '../../src/onnx/index.ts';
import { loadInferenceProto, type ModelInferResponse } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { tensorFromRaw } from '../../src/protocols/kserve-v2/raw-tensor.ts';
import { inProcessLoader } from '../../src/repository/index.ts';
import { service } from '../../src/service/service.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';

/** m:v answers y = v * x, so every answer shows which version computed it. */
async function start(): Promise<ModelServer> {
  const models = await tempModels();
  for (const v of [1, 2, 3]) await saveOnnx(models, `m:${v}`, linearRegression({ weights: [[v]], bias: [0] }));
  const svc = service('scorer', { models: { m: 'm', pinned: 'm:1' } })
    .api('score', {
      input: z.object({ userId: z.string(), x: z.number() }),
      output: z.object({ y: z.number() }),
      handler: async ({ x }, ctx) => {
        const out = await ctx.models.m.run({ input: { dtype: 'float32', shape: [1, 1], data: Float32Array.of(x) } });
        return { y: out.get('output', 'float32').data[0]! };
      },
    })
    .api('pinned', {
      input: z.object({ x: z.number() }),
      output: z.object({ y: z.number() }),
      handler: async ({ x }, ctx) => ({ y: (await ctx.models.pinned.run({ input: { dtype: 'float32', shape: [1, 1], data: Float32Array.of(x) } })).get('output', 'float32').data[0]! }),
    });
  const server = await serveModels({
    service: svc,
    models: [{ name: 'm', versions: { latest: 1 } }],
    store: models.store,
    loader: inProcessLoader(models, { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] }),
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: { port: 0, host: '127.0.0.1' },
    traffic: { stateDir: false },
  });
  await server.ready;
  return server;
}

async function manage(server: ModelServer, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/v2/traffic${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: res.status, body: await res.json() };
}

interface Answer {
  status: number;
  variant: string | null;
  /** The answer's value: version * x for x = 1. */
  y: number | undefined;
  body: any;
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ res: Response; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { res, body: await res.json() };
}

const entries: Record<string, (server: ModelServer, headers?: Record<string, string>, version?: string) => Promise<Answer>> = {
  'TF Serving': async (server, headers = {}, version) => {
    const { res, body } = await post(`${server.url}/v1/models/m${version ? `/versions/${version}` : ''}:predict`, { instances: [[1]] }, headers);
    return { status: res.status, variant: res.headers.get('x-tiffin-variant'), y: body.predictions?.[0]?.[0], body };
  },
  TorchServe: async (server, headers = {}, version) => {
    const { res, body } = await post(`${server.url}/predictions/m${version ? `/${version}` : ''}`, [1], headers);
    return { status: res.status, variant: res.headers.get('x-tiffin-variant'), y: Array.isArray(body) ? body[0] : undefined, body };
  },
};

/** Sends `n` requests through `entry`, 4 at a time, and counts the variants that answered. */
async function spread(n: number, send: () => Promise<Answer>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next++ < n) {
      const a = await send();
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(String(a.y), a.variant, 'the variant named is the one that computed the answer');
      counts.set(a.variant!, (counts.get(a.variant!) ?? 0) + 1);
    }
  }));
  return counts;
}

test('TF Serving :predict and TorchServe /predictions follow the route: split, sticky, override, shadow; a versioned path is never rerouted', async () => {
  const server = await start();
  try {
    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 50, '2': 50 }, sticky: 'x-user-id' })).status, 200);
    for (const [name, send] of Object.entries(entries)) {
      const counts = await spread(200, () => send(server));
      // 200 draws at 50/50: each side within about 4 sigma (30) of 100; unrouted, all 200 would be 3s.
      for (const v of ['1', '2']) assert.ok(Math.abs((counts.get(v) ?? 0) - 100) < 30, `${name}: ${JSON.stringify([...counts])}`);
      for (const user of ['ann', 'bob', 'cy', 'dee']) {
        const first = await send(server, { 'x-user-id': user });
        for (let i = 0; i < 5; i++) assert.equal((await send(server, { 'x-user-id': user })).variant, first.variant, `${name}: ${user} stays`);
      }
      const pinned = await send(server, { 'x-tiffin-variant': '2' });
      assert.equal(pinned.variant, '2');
      assert.equal(pinned.y, 2);
      const unknown = await send(server, { 'x-tiffin-variant': '7' });
      assert.equal(unknown.status, 400, `${name}: ${JSON.stringify(unknown.body)}`);
      assert.match(JSON.stringify(unknown.body), /not a variant/);
      // A path that names its version keeps it, whatever the route or the override.
      const fixed = await send(server, { 'x-tiffin-variant': '2' }, '3');
      assert.equal(fixed.y, 3, `${name}: /versions/3 answered ${JSON.stringify(fixed.body)}`);
      assert.equal(fixed.variant, '3');
    }

    // A shadow gets copies of TF Serving and TorchServe requests too; its answers are compared, never returned.
    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 100 }, shadow: { version: '3', rate: 1 } })).status, 200);
    for (const send of Object.values(entries)) {
      for (let i = 0; i < 10; i++) {
        const a = await send(server);
        assert.equal(a.variant, '1');
        assert.equal(a.y, 1);
      }
    }
    let stats = (await manage(server, 'GET', '/m')).body.shadow;
    for (let i = 0; i < 100 && stats.inFlight > 0; i++) {
      await sleep(50);
      stats = (await manage(server, 'GET', '/m')).body.shadow;
    }
    assert.ok(stats.compared >= 10, JSON.stringify(stats));
    assert.equal(stats.failed, 0);
    assert.equal(stats.maxAbsDiff, 2, 'live y = 1, shadow y = 3');
  } finally {
    await server.close();
  }
});

type UnaryCall = (request: unknown, metadata: grpc.Metadata, callback: (err: grpc.ServiceError | null, res: ModelInferResponse) => void) => grpc.ClientUnaryCall;

interface GrpcAnswer {
  response: ModelInferResponse;
  y: number;
  initial: grpc.Metadata;
  trailing: grpc.Metadata;
}

function modelInfer(client: grpc.Client, headers: Record<string, string> = {}, version = ''): Promise<GrpcAnswer> {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  const request = { model_name: 'm', model_version: version, inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], contents: { fp32_contents: [1] } }] };
  return new Promise((resolve, reject) => {
    let initial = new grpc.Metadata();
    let trailing = new grpc.Metadata();
    let answer: ModelInferResponse | undefined;
    const done = () => {
      if (!answer) return;
      const raw = answer.raw_output_contents![0]!;
      const y = (tensorFromRaw('float32', [1, 1], raw, 'output').data as Float32Array)[0]!;
      resolve({ response: answer, y, initial, trailing });
    };
    const call = ((client as unknown as Record<string, UnaryCall>).ModelInfer!).call(client, request, metadata, (err, res) => {
      if (err) return reject(err);
      answer = res;
    });
    call.on('metadata', (m: grpc.Metadata) => (initial = m));
    call.on('status', (s: grpc.StatusObject) => {
      trailing = s.metadata;
      setImmediate(done);
    });
  });
}

test('gRPC ModelInfer follows the route: the variant is in parameters and metadata; sticky, override and versioned calls', async () => {
  const server = await start();
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
  try {
    // Unrouted, with traffic on: the trailing metadata names the version that served.
    const plain = await modelInfer(client);
    assert.equal(plain.trailing.get('x-tiffin-variant')[0], '3');
    assert.equal(plain.response.parameters?.variant, undefined);

    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 50, '2': 50 }, sticky: 'x-user-id' })).status, 200);
    const counts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const a = await modelInfer(client);
      const variant = a.response.parameters!.variant!.string_param!;
      assert.equal(a.response.parameters!.routing!.string_param, 'weighted');
      assert.equal(a.response.model_version, variant);
      assert.equal(String(a.y), variant, 'the variant named computed the answer');
      assert.equal(a.initial.get('x-tiffin-variant')[0], variant, 'initial metadata');
      assert.equal(a.trailing.get('x-tiffin-variant')[0], variant, 'trailing metadata');
      assert.ok(a.initial.get('x-request-id')[0], 'a generated request id still comes back');
      counts.set(variant, (counts.get(variant) ?? 0) + 1);
    }
    for (const v of ['1', '2']) assert.ok(Math.abs((counts.get(v) ?? 0) - 100) < 30, JSON.stringify([...counts]));

    for (const user of ['ann', 'bob', 'cy', 'dee']) {
      const first = (await modelInfer(client, { 'x-user-id': user })).response.parameters!;
      assert.equal(first.routing!.string_param, 'sticky');
      for (let i = 0; i < 5; i++) assert.equal((await modelInfer(client, { 'x-user-id': user })).response.parameters!.variant!.string_param, first.variant!.string_param);
    }
    const pinned = await modelInfer(client, { 'x-tiffin-variant': '2' });
    assert.equal(pinned.y, 2);
    assert.equal(pinned.response.parameters!.routing!.string_param, 'override');
    await assert.rejects(modelInfer(client, { 'x-tiffin-variant': '7' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /not a variant/);
      return true;
    });
    // A call that names its version is never rerouted.
    const fixed = await modelInfer(client, { 'x-tiffin-variant': '2' }, '3');
    assert.equal(fixed.y, 3);
    assert.equal(fixed.trailing.get('x-tiffin-variant')[0], '3');
    // gRPC calls count in the route's view of the variants like REST ones (a rollout compares them).
    const view = (await manage(server, 'GET', '/m')).body;
    assert.deepEqual(view.route.variants, { '1': 50, '2': 50 });
  } finally {
    client.close();
    await server.close();
  }
});

test("a service's ctx.models calls follow the model's route, sticky by a field of the API input; a tag with a version is never rerouted", async () => {
  const server = await start();
  const score = async (userId: string, headers: Record<string, string> = {}) => {
    const { res, body } = await post(`${server.url}/score`, { userId, x: 1 }, headers);
    return { status: res.status, variant: res.headers.get('x-tiffin-variant'), y: body.y as number, body };
  };
  try {
    // No route: the default version, and no variant header.
    const before = await score('ann');
    assert.equal(before.y, 3);
    assert.equal(before.variant, null);

    const set = await manage(server, 'PUT', '/m', { variants: { '1': 50, '2': 50 }, sticky: { field: 'userId' } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.route.sticky, { field: 'userId' });
    const users = Array.from({ length: 200 }, (_, i) => `user-${i}`);
    const first = new Map<string, number>();
    for (const u of users) {
      const a = await score(u);
      assert.equal(a.status, 200, JSON.stringify(a.body));
      assert.equal(a.variant, `m=${a.y}`, 'the answer names the model and the variant that computed it');
      first.set(u, a.y);
    }
    const twos = [...first.values()].filter((y) => y === 2).length;
    assert.ok(Math.abs(twos - 100) < 30, `${twos} of 200 users on variant 2`);
    // The same field value always reaches the same variant, whatever its headers.
    for (const u of users.slice(0, 40)) assert.equal((await score(u, { 'x-user-id': 'other' })).y, first.get(u));
    // Most keys keep their variant when the weights change (sticky is kept when absent from the body).
    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 40, '2': 60 } })).body.route.sticky.field, 'userId');
    let kept = 0;
    for (const u of users) if ((await score(u)).y === first.get(u)) kept++;
    assert.ok(kept / users.length > 0.8, `${kept} of ${users.length} kept their variant`);

    // The override header pins the handler's model call too.
    assert.equal((await score('ann', { 'x-tiffin-variant': '1' })).y, 1);
    const bad = await score('ann', { 'x-tiffin-variant': '7' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error?.code ?? bad.body.code, 'TRAFFIC_VARIANT_UNKNOWN', JSON.stringify(bad.body));

    // A key whose tag names a version (pinned: m:1) is a fixed choice.
    for (let i = 0; i < 10; i++) {
      const { res, body } = await post(`${server.url}/pinned`, { x: 1 }, { 'x-tiffin-variant': '2' });
      assert.equal(body.y, 1);
      assert.equal(res.headers.get('x-tiffin-variant'), null);
    }
  } finally {
    await server.close();
  }
});

test("no request fails on any entry while weights change under load; a bandit learns from ctx.models calls' request ids", async () => {
  const server = await start();
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
  try {
    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 50, '2': 50 } })).status, 200);
    let changing = true;
    let changes = 0;
    const flips = (async () => {
      for (let i = 0; changing && i < 30; i++) {
        const w = i % 3 === 0 ? { '1': 90, '2': 10 } : i % 3 === 1 ? { '2': 50, '3': 50 } : { '1': 10, '3': 90 };
        assert.equal((await manage(server, 'PUT', '/m', { variants: w })).status, 200);
        changes++;
        await sleep(10);
      }
    })();
    const failures: string[] = [];
    const seen = new Set<string>();
    const loop = async (n: number, send: () => Promise<string>) => {
      for (let i = 0; i < n; i++) {
        try {
          seen.add(await send());
        } catch (err) {
          failures.push(String(err));
        }
      }
    };
    const ok = (a: Answer) => {
      if (a.status !== 200 || String(a.y) !== a.variant) throw new Error(`${a.status} ${JSON.stringify(a.body)}`);
      return a.variant!;
    };
    await Promise.all([
      ...[0, 1].map(() => loop(150, async () => ok(await entries['TF Serving']!(server)))),
      ...[0, 1].map(() => loop(150, async () => ok(await entries.TorchServe!(server)))),
      ...[0, 1].map(() => loop(150, async () => String((await modelInfer(client)).y))),
      ...[0, 1].map(() => loop(150, async () => {
        const { res, body } = await post(`${server.url}/score`, { userId: 'u', x: 1 });
        if (res.status !== 200) throw new Error(JSON.stringify(body));
        return String(body.y);
      })),
    ]);
    changing = false;
    await flips;
    assert.deepEqual(failures, []);
    assert.ok(changes >= 5, `${changes} weight changes happened during the load`);
    assert.deepEqual([...seen].sort(), ['1', '2', '3']);

    // A bandit over ctx.models: feedback names the API answer's x-request-id.
    assert.equal((await manage(server, 'PUT', '/m', { variants: { '1': 1, '2': 1 }, strategy: 'bandit' })).status, 200);
    const late: number[] = [];
    for (let i = 0; i < 200; i++) {
      const { res, body } = await post(`${server.url}/score`, { userId: `u${i}`, x: 1 });
      assert.equal(res.headers.get('x-tiffin-variant'), `m=${body.y}`);
      const fb = await post(`${server.url}/v2/models/m/feedback`, { id: res.headers.get('x-request-id'), reward: body.y === 2 ? 1 : 0 });
      assert.equal(fb.res.status, 200, JSON.stringify(fb.body));
      assert.equal(fb.body.variant, String(body.y));
      if (i >= 150) late.push(body.y);
    }
    assert.ok(late.filter((y) => y === 2).length > 40, `variant 2 answered ${late.filter((y) => y === 2).length} of the last 50`);
  } finally {
    client.close();
    await server.close();
  }
});
