// One routed model call, whatever brought it (a V2 REST or gRPC inference, a TF Serving or TorchServe predict, a
// service handler's ctx.models call): the variant is picked once, at its start; its outcome is counted for a running
// rollout and the per-variant metrics; a bandit-routed request id is remembered for its feedback; and a shadow copy
// is planned before the live call (so the caller can copy its inputs, which the live call may transfer to a worker)
// and started after it, never awaited.
import { isTiffinError } from '../errors/index.ts';
import type { Tensor, Tensors } from '../runtime/tensor.ts';
import type { ShadowTicket, TrafficManager } from './manager.ts';
import type { VariantPick } from './router.ts';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export class RoutedCall {
  private ticket: ShadowTicket | undefined;

  private constructor(
    private readonly traffic: TrafficManager,
    readonly model: string,
    readonly pick: VariantPick,
  ) {}

  /** The routed call of `model`, or undefined when traffic is off or the model has no route. `input`: a service API's
   * parsed input (a route may key on one of its fields). Throws TRAFFIC_VARIANT_UNKNOWN for a bad override. */
  static begin(traffic: TrafficManager | undefined, model: string, headers: Headers, input?: unknown): RoutedCall | undefined {
    const pick = traffic?.pick(model, headers, input);
    return pick ? new RoutedCall(traffic!, model, pick) : undefined;
  }

  get version(): string {
    return this.pick.version;
  }

  /** Whether a copy of this call goes to the shadow (sampled, and only while the shadow has a free slot). When true,
   * copy the inputs now and pass the copy to shadow() after the live call. */
  planShadow(): boolean {
    this.ticket = this.traffic.planShadow(this.model, this.pick.version);
    return this.ticket !== undefined;
  }

  /** Runs the live call on the picked variant and records its outcome (a client's 4xx is not the variant's fault). */
  async run<T>(requestId: string | undefined, live: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    let result: T;
    try {
      result = await live();
    } catch (err) {
      this.ticket?.cancel();
      this.ticket = undefined;
      if (!isTiffinError(err) || err.status >= 500) this.traffic.record(this.model, this.pick, false, performance.now() - t0);
      throw err;
    }
    this.traffic.record(this.model, this.pick, true, performance.now() - t0);
    if (this.pick.routing === 'bandit' && requestId !== undefined) this.traffic.served(this.model, requestId, this.pick.version);
    return result;
  }

  /** Starts the planned shadow copy (if any) and compares its answer with `live`; returns at once, never throws. */
  shadow(live: Tensors, call: (version: string) => Promise<Tensors>): void {
    const ticket = this.ticket;
    this.ticket = undefined;
    ticket?.run(live, call);
  }
}

/** Copies of `feeds`' tensors (own buffers), for a shadow call. */
export function copyTensors(feeds: Tensors): Tensors {
  const out: Tensors = {};
  for (const name of Object.keys(feeds)) {
    const t = feeds[name]!;
    out[name] = { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() } as Tensor;
  }
  return out;
}
