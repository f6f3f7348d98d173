import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import { AlwaysOffSampler, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { tensor, type Tensors } from '../../runtime/tensor.ts';
import type { CallOptions, ModelHandle } from '../../runtime/types.ts';
import { HandlerTelemetry } from '../handler-telemetry.ts';
import { Tracing } from './tracing.ts';
import { UserMetrics } from '../metrics/user-metrics.ts';
import { Registry } from 'prom-client';
import { asModelOutputs } from '../../runtime/model-outputs.ts';

const handle: ModelHandle = {
  tag: 'iris:3',
  framework: 'onnx',
  signatures: {},
  inputs: [],
  outputs: [],
  run: async (feeds: Tensors) => asModelOutputs({ y: feeds.x! }),
  call: async (method: string) => {
    throw new Error(`no ${method}`);
  },
};

describe('model calls in a traced request', () => {
  it('get a tiffin.inference span each, child of the request span; failures are marked', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} });
    const req = tracing.startRequest('POST', '/classify', '/classify', {});
    const tel = new HandlerTelemetry('r1', req, tracing, new UserMetrics(new Registry()), undefined);
    const models = tel.models({ iris: handle });
    assert.equal(models.iris.tag, 'iris:3');
    const out = await models.iris.run({ x: tensor('float32', [1], Float32Array.from([1])) });
    assert.ok(out.y);
    await assert.rejects(models.iris.call('explain', {}), /no explain/);
    assert.equal(models.iris, models.iris, 'wrapped once per request');
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'tiffin.inference');
    assert.equal(spans.length, 2);
    for (const s of spans) {
      assert.equal(s.parentSpanContext?.spanId, req.span.spanContext().spanId);
      assert.equal(s.attributes['tiffin.model'], 'iris:3');
      assert.equal(s.attributes['tiffin.model.key'], 'iris');
    }
    assert.equal(spans[0]!.attributes['tiffin.model.method'], 'run');
    assert.equal(spans[1]!.status.code, SpanStatusCode.ERROR);
  });

  it('pass their span on to the handle as CallOptions.traceContext, keeping the caller\'s options', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} });
    const req = tracing.startRequest('POST', '/classify', '/classify', {});
    const seen: CallOptions[] = [];
    const recording: ModelHandle = {
      ...handle,
      run: async (feeds: Tensors, options?: CallOptions) => {
        seen.push(options!);
        return asModelOutputs({ y: feeds.x! });
      },
      call: async (_method: string, input: unknown, options?: CallOptions) => {
        seen.push(options!);
        return input;
      },
    };
    const models = new HandlerTelemetry('r2', req, tracing, new UserMetrics(new Registry()), undefined).models({ iris: recording });
    const given: CallOptions = { priority: 2, timeoutMs: 50 };
    await models.iris.run({ x: tensor('float32', [1], Float32Array.from([1])) }, given);
    await models.iris.call('explain', 1);
    assert.deepEqual(given, { priority: 2, timeoutMs: 50 }, 'the caller\'s options are not changed');
    const spans = exporter.getFinishedSpans().filter((s) => s.name === 'tiffin.inference');
    assert.equal(spans.length, 2);
    seen.forEach((options, i) => {
      const spanOfCall = trace.getSpanContext(options.traceContext as Context);
      assert.equal(spanOfCall?.spanId, spans[i]!.spanContext().spanId, 'the context holds the call\'s own span');
    });
    assert.equal(seen[0]!.priority, 2);
    assert.equal(seen[0]!.timeoutMs, 50);
  });

  it('are not wrapped when the request is not traced', () => {
    const handles = { iris: handle };
    for (const tracing of [new Tracing({ env: {}, registerGlobal: false }), new Tracing({ exporter: new InMemorySpanExporter(), sampler: new AlwaysOffSampler(), registerGlobal: false, env: {} })]) {
      const req = tracing.startRequest('POST', '/classify', '/classify', {});
      const tel = new HandlerTelemetry('r', req, tracing, new UserMetrics(new Registry()), undefined);
      assert.equal(tel.models(handles), handles);
    }
  });
});
