// A server's telemetry in one object, built from the config sections: the logger, metrics, tracing and
// prediction log, and the two seams the server uses (HTTP hooks, a handler's view).
import type { FastifyInstance } from 'fastify';
import type { DestinationStream, Logger } from 'pino';
import { Registry } from 'prom-client';
import { resolveTelemetryConfig, type TelemetryConfig, type TelemetrySections } from './config.ts';
import type { GpuQuery } from './metrics/gpu-metrics.ts';
import { HandlerTelemetry } from './handler-telemetry.ts';
import { registerHttpTelemetry } from './http-telemetry.ts';
import { createLogger } from './logs/logger.ts';
import { TiffinMetrics } from './metrics/metrics.ts';
import type { ModelMetrics } from './metrics/model-metrics.ts';
import { PredictionLog } from './monitoring/prediction-log.ts';
import { observeLoads, observeRunner, type ObservedRunner } from './runner-telemetry.ts';
import { monitorLoads, type MonitoredConfig, type RunnableModel } from './monitoring/tensor-monitor.ts';
import { Tracing, type RequestTrace, type TracingOptions } from './tracing/tracing.ts';
import { UserMetrics } from './metrics/user-metrics.ts';

export interface TelemetryOptions {
  /** The telemetry sections of tiffin.yaml (validated here; defaults fill the rest). */
  config?: TelemetrySections;
  /** Service name: on log lines, service.name of spans. */
  service?: string;
  version?: string;
  /** Use this logger instead of building one from config.logging. */
  logger?: Logger;
  /** Where a logger built from config writes (tests capture lines here). */
  logDestination?: DestinationStream;
  /** Tracing overrides (tests pass an in-memory exporter). */
  tracing?: TracingOptions;
  gpuQuery?: GpuQuery;
}

export class Telemetry {
  readonly config: TelemetryConfig;
  readonly logger: Logger;
  /** Undefined when metrics are disabled: nothing is recorded at all. */
  readonly metrics: TiffinMetrics | undefined;
  readonly tracing: Tracing;
  /** Undefined without a monitoring folder. */
  readonly predictions: PredictionLog | undefined;
  /** Handlers' metrics; without metrics they go to a registry nobody scrapes, so handler code need not care. */
  private readonly userMetrics: UserMetrics;

  constructor(options: TelemetryOptions = {}) {
    const config = resolveTelemetryConfig(options.config);
    this.config = config;
    this.logger =
      options.logger ??
      createLogger({
        level: config.logging.level,
        format: config.logging.format,
        ...(options.service !== undefined ? { service: options.service } : {}),
        ...(options.version !== undefined ? { version: options.version } : {}),
        ...(options.logDestination ? { destination: options.logDestination } : {}),
      });
    this.metrics = config.metrics.enabled
      ? new TiffinMetrics({
          buckets: config.metrics.buckets,
          process: config.metrics.process,
          gpu: config.metrics.gpu,
          ...(options.gpuQuery ? { gpuQuery: options.gpuQuery } : {}),
        })
      : undefined;
    this.userMetrics = this.metrics?.user ?? new UserMetrics(new Registry());
    this.tracing =
      config.tracing.enabled === false
        ? new Tracing({ env: {} })
        : new Tracing({
            activeContext: config.tracing.activeContext,
            maxTracesPerSecond: config.tracing.maxTracesPerSecond,
            ...(options.service !== undefined ? { serviceName: options.service } : {}),
            ...(options.version !== undefined ? { serviceVersion: options.version } : {}),
            ...options.tracing,
          });
    const m = config.monitoring;
    this.predictions = m.dir
      ? new PredictionLog({
          dir: m.dir,
          sampleRate: m.sampleRate,
          maxFileBytes: m.maxFileBytes,
          maxFiles: m.maxFiles,
          onError: (err, stream) => this.logger.error({ err, stream }, 'prediction log write failed'),
          ...(this.metrics ? { onRecord: this.metrics.predictionRecordCounter() } : {}),
        })
      : undefined;
  }

  /** Adds /metrics, HTTP metrics, request spans and the access log to a fastify app (before its routes). */
  registerHttp(app: FastifyInstance): void {
    registerHttpTelemetry(app, {
      ...(this.metrics ? { metrics: this.metrics } : {}),
      metricsPath: this.config.metrics.path,
      accessLog: this.config.logging.accessLog ? this.logger : false,
      tracing: this.tracing,
      quietPaths: this.config.logging.quietPaths,
    });
  }

  /** The telemetry part of a handler's context. */
  forHandler(requestId: string, trace: RequestTrace): HandlerTelemetry {
    return new HandlerTelemetry(requestId, trace, this.tracing, this.userMetrics, this.predictions);
  }

  /** Wraps a model loader so the runners it loads report inference metrics (and batch spans) until closed. */
  observeLoads<L extends (...args: never[]) => Promise<{ close(): Promise<void> }>>(load: L): L {
    return this.metrics || this.tracing.enabled ? observeLoads(this.metrics, load, { tracing: this.tracing }) : load;
  }

  /** Wraps a model loader so that models configured with `monitor:` log every call to their prediction stream
   * (identity without a monitoring folder). */
  monitorLoads<C extends { config: MonitoredConfig }, T extends RunnableModel>(
    load: (tag: string, context: C) => Promise<T>,
  ): (tag: string, context: C) => Promise<T> {
    return this.predictions ? monitorLoads(this.predictions, load) : load;
  }

  /** Reports a runner's inference metrics (and batch spans) until the returned function is called (`true`: drop its series). */
  observeRunner(runner: ObservedRunner): (forget?: boolean) => void {
    return this.metrics || this.tracing.enabled ? observeRunner(this.metrics, runner, { tracing: this.tracing }) : () => undefined;
  }

  /** A model version's inference metrics, or undefined when metrics are off. */
  model(model: string, version: string): ModelMetrics | undefined {
    return this.metrics?.model(model, version);
  }

  /** Flushes spans and prediction logs, stops probes. */
  async close(): Promise<void> {
    this.metrics?.close();
    await Promise.allSettled([this.tracing.shutdown(), this.predictions?.close()]);
    this.logger.flush();
  }
}
