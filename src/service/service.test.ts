// The service builder: types that flow from schemas into handlers (checked by tsc through @ts-expect-error),
// immutable chaining, and SERVICE_INVALID for names, routes and kinds that cannot work.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isTiffinError } from '../errors/index.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { io, isService, service, type InputWire, type OutputWire } from './index.ts';

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => isTiffinError(err, 'SERVICE_INVALID') && pattern.test(err.message));
}

test('each call returns a new service; the earlier one is unchanged', () => {
  const base = service('base', { models: { m: 'm:1' }, version: '2.0.0' });
  const one = base.api('a', { input: io.text(), output: io.text(), handler: (s) => s });
  const two = one.onStartup(() => {}).onShutdown(() => {});
  assert.equal(base.apis.length, 0);
  assert.deepEqual(one.apis.map((a) => a.name), ['a']);
  assert.equal(one.startupHooks.length, 0);
  assert.equal(two.startupHooks.length, 1);
  assert.equal(two.shutdownHooks.length, 1);
  assert.equal(two.version, '2.0.0');
  assert.deepEqual(two.models, { m: 'm:1' });
  assert.ok(isService(two), 'a service is recognised');
  assert.equal(isService({ name: 'x', apis: [] }), false);
});

test('a bare zod schema means a JSON body; routes default to /<name>', () => {
  const svc = service('s').api('classify', { input: z.object({ x: z.number() }), output: z.object({ y: z.string() }), handler: (i) => ({ y: String(i.x) }) });
  const api = svc.findApi('classify');
  assert.equal(api?.route, '/classify');
  assert.equal(api?.input.kind, 'json');
  assert.equal(api?.output.kind, 'json');
  assert.deepEqual(api?.input.accepts, ['application/json']);
});

test('names, routes, tags and kinds that cannot work are refused with SERVICE_INVALID', () => {
  invalid(() => service('has space'), /service name "has space"/);
  invalid(() => service('s', { models: { m: 'Bad Tag!' } }), /model "m"/);
  const svc = service('s').api('a', { input: io.text(), output: io.text(), handler: (s) => s });
  invalid(() => svc.api('a', { input: io.text(), output: io.text(), handler: (s) => s }), /already has an API named "a"/);
  invalid(() => svc.api('1st', { input: io.text(), output: io.text(), handler: (s) => s }), /API name "1st"/);
  invalid(() => svc.api('waitUntilReady', { input: io.text(), output: io.text(), handler: (s) => s }), /reserved/);
  invalid(() => svc.api('b', { input: io.text(), output: io.text(), route: '/readyz', handler: (s) => s }), /reserved for the server/);
  invalid(() => svc.api('b', { input: io.text(), output: io.text(), route: '/a', handler: (s) => s }), /already taken by API "a"/);
  invalid(() => svc.api('b', { input: io.text(), output: io.text(), route: 'v1/:id', handler: (s) => s }), /must be a path/);
  const withTask = svc.task('job', { input: z.object({}), output: z.object({}), handler: () => ({}) });
  invalid(() => withTask.task('job', { input: z.object({}), output: z.object({}), handler: () => ({}) }), /already has a task named "job"/);
  invalid(() => withTask.api('job', { input: io.text(), output: io.text(), handler: (s) => s }), /already has a task named "job"/);
  invalid(() => withTask.api('b', { input: io.text(), output: io.text(), route: '/job/submit', handler: (s) => s }), /route \/job\/submit is already taken by task "job"/);
  invalid(() => svc.task('b', { input: z.object({}), output: z.object({}), route: '/docs', handler: () => ({}) }), /reserved for the server/);
  invalid(() => svc.task('b', { input: z.object({}), output: z.object({}), concurrency: 0, handler: () => ({}) }), /concurrency must be a whole number above 0/);
  // @ts-expect-error task inputs are JSON: zod schemas only
  invalid(() => svc.task('b', { input: io.text(), output: z.object({}), handler: () => ({}) }), /must be zod schemas/);
  assert.deepEqual(withTask.findTask('job')?.route, '/job');
  // @ts-expect-error a stream is an output kind only
  invalid(() => svc.api('b', { input: io.stream(z.number()), output: io.text(), handler: () => 'x' }), /input must be/);
});

test('types flow from the schemas into the handler and out to clients (checked by tsc)', () => {
  const svc = service('typed', { models: { iris: 'iris:latest' } })
    .api('json', {
      input: z.object({ n: z.number(), when: z.string().transform((s) => new Date(s)) }),
      output: z.object({ doubled: z.number(), tags: z.array(z.string()) }),
      handler: (input, ctx) => {
        const n: number = input.n;
        const when: Date = input.when;
        void ctx.models.iris.run;
        // @ts-expect-error only the declared models exist
        void ctx.models.other;
        void when;
        return { doubled: n * 2, tags: ['a'] };
      },
    })
    .api('tensor', {
      input: io.tensor({ dtype: 'float32', shape: [-1, 4] }),
      output: io.tensor({ dtype: 'int64' }),
      handler: (t) => {
        const data: Float32Array = t.data;
        return { dtype: 'int64', shape: [data.length], data: BigInt64Array.from(data, (v) => BigInt(Math.round(v))) };
      },
    });

  service('x').api('wrong-output', {
    input: z.object({ a: z.number() }),
    output: z.object({ b: z.string() }),
    // @ts-expect-error b must be a string
    handler: (i) => ({ b: i.a }),
  });
  service('x').api('wrong-yield', {
    input: z.object({}),
    output: io.stream(z.object({ b: z.string() })),
    // @ts-expect-error items must match the item schema
    async *handler() {
      yield { b: 1 };
    },
  });
  service('x').api('wrong-text', {
    input: io.text(),
    output: io.text(),
    // @ts-expect-error text outputs are strings
    handler: (s) => s.length,
  });

  type Apis = NonNullable<(typeof svc)['~apis']>;
  const clientInput: Apis['json']['input'] = { n: 1, when: '2024-01-01' };
  const clientOutput: Apis['json']['output'] = { doubled: 2, tags: [] };
  const tensorIn: InputWire<ReturnType<typeof io.tensor<'float32'>>> = [[1, 2, 3, 4]];
  const tensorOut: OutputWire<ReturnType<typeof io.tensor<'int64'>>> = { dtype: 'int64', shape: [1], data: new BigInt64Array(1) } satisfies Tensor<'int64'>;
  // @ts-expect-error clients send the schema's input type (a string for `when`)
  const badInput: Apis['json']['input'] = { n: 1, when: new Date() };
  void [clientInput, clientOutput, tensorIn, tensorOut, badInput];
});

test('the OpenAPI content of each kind carries its JSON Schema', () => {
  const json = io.json(z.object({ q: z.string().min(1).describe('the query') }));
  assert.deepEqual(json.requestContent(), {
    'application/json': { schema: { type: 'object', properties: { q: { type: 'string', minLength: 1, description: 'the query' } }, required: ['q'] } },
  });
  const t = io.tensor({ dtype: 'float32', shape: [-1, 2] }).requestContent();
  assert.deepEqual((t['application/json']?.schema.anyOf as unknown[])[0], { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 2, maxItems: 2 } });
  assert.ok(t['application/octet-stream']);
  assert.deepEqual(Object.keys(io.image({ formats: ['png'] }).requestContent()), ['image/png', 'application/octet-stream', 'multipart/form-data']);
});
