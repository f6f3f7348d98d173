// One gRPC endpoint of a remote runner: a @grpc/grpc-js client of inference.GRPCInferenceService (round_robin over
// every address the target resolves to, so a headless Service's pods share the load), and what is known of its
// health: a ModelReady poll every second, and call failures that mark it down until a poll says otherwise.
import * as grpc from '@grpc/grpc-js';
import { loadInferenceProto, type ModelInferRequest, type ModelInferResponse } from '../protocols/kserve-v2/grpc-proto.ts';

type ClientCtor = grpc.ServiceClientConstructor;
let inferenceClient: ClientCtor | undefined;

function clientConstructor(): ClientCtor {
  inferenceClient ??= (grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: ClientCtor } }).inference.GRPCInferenceService;
  return inferenceClient;
}

type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (err: grpc.ServiceError | null, res?: Res) => void) => grpc.ClientUnaryCall;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Every address behind a DNS name (a headless Service's pods), not only the first.
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.max_receive_message_length': -1,
  'grpc.max_send_message_length': -1,
  // A runner that vanishes without closing its sockets (a node lost) is noticed in seconds, not minutes.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export type EndpointState = 'unknown' | 'ready' | 'not-ready' | 'down';

export interface EndpointOptions {
  model: string;
  token?: string | undefined;
  tls?: boolean | undefined;
  /** How often readiness is polled; default 1000 ms. */
  pollMs?: number;
}

export class RunnerEndpoint {
  state: EndpointState = 'unknown';
  /** Why it is not ready, for readiness messages and errors. */
  reason = 'not checked yet';
  private readonly client: grpc.Client;
  private readonly infer: Unary<ModelInferRequest, ModelInferResponse>;
  private readonly modelReady: Unary<{ name: string; version: string }, { ready: boolean }>;
  private timer: NodeJS.Timeout | undefined;
  private onChange: () => void = () => {};
  private closed = false;

  constructor(
    readonly address: string,
    private readonly options: EndpointOptions,
  ) {
    const Ctor = clientConstructor();
    this.client = new Ctor(address, options.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const methods = this.client as unknown as Record<string, Unary<unknown, unknown>>;
    this.infer = methods.ModelInfer!.bind(this.client) as Unary<ModelInferRequest, ModelInferResponse>;
    this.modelReady = methods.ModelReady!.bind(this.client) as Unary<{ name: string; version: string }, { ready: boolean }>;
  }

  /** Usable for a call: ready, or not yet known (a first call need not wait for the first poll). */
  get usable(): boolean {
    return this.state === 'ready' || this.state === 'unknown';
  }

  /** Metadata every call carries: the token, when the runner needs one. */
  metadata(): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.options.token) md.set('authorization', `Bearer ${this.options.token}`);
    return md;
  }

  call(request: ModelInferRequest, metadata: grpc.Metadata, deadline: number | undefined, done: (err: grpc.ServiceError | null, res?: ModelInferResponse) => void): grpc.ClientUnaryCall {
    return this.infer(request, metadata, deadline === undefined ? {} : { deadline: new Date(deadline) }, done);
  }

  /** A call failed in a way that says the endpoint is gone (UNAVAILABLE, connection lost): avoid it until a poll finds it ready. */
  markDown(reason: string): void {
    const before = this.state;
    this.state = 'down';
    this.reason = reason;
    if (before !== 'down') this.onChange();
  }

  startPolling(onChange: () => void): void {
    this.onChange = onChange;
    const poll = (): void => {
      if (this.closed) return;
      this.modelReady({ name: this.options.model, version: '' }, this.metadata(), { deadline: new Date(Date.now() + 1000) }, (err, res) => {
        if (this.closed) return;
        const before = this.state;
        if (err) {
          this.state = 'down';
          this.reason = `${grpc.status[err.code] ?? err.code}: ${err.details}`;
        } else if (res?.ready) {
          this.state = 'ready';
          this.reason = '';
        } else {
          this.state = 'not-ready';
          this.reason = `model ${this.options.model} is not ready there`;
        }
        if (before !== this.state) onChange();
        this.timer = setTimeout(poll, this.options.pollMs ?? 1000);
        this.timer.unref();
      });
    };
    poll();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.client.close();
  }
}
