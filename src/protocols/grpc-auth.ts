// Tokens over gRPC: the `authorization` metadata (`Bearer <token>`) checked before a method runs, with the
// same scopes as HTTP. Probes stay open; repository methods need management; the rest need inference.
import * as grpc from '@grpc/grpc-js';
import type { Scope, TokenSet } from '../auth/index.ts';
import { GRPC_STATUS } from './error-status.ts';

const OPEN_METHODS = new Set(['ServerLive', 'ServerReady', 'ModelReady']);

export function grpcMethodScope(method: string): Scope | 'open' {
  if (OPEN_METHODS.has(method)) return 'open';
  return method.startsWith('Repository') ? 'management' : 'inference';
}

/** Methods whose handler takes a stream (no callback): a refusal ends the stream with its status. */
const STREAMING_METHODS = new Set(['ModelStreamInfer']);

/** `handlers` behind the token check (unary ones, and the streaming ones in STREAMING_METHODS). */
export function withGrpcAuth(handlers: grpc.UntypedServiceImplementation, tokens: TokenSet): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const scope = grpcMethodScope(method);
    if (scope === 'open' || !tokens.protectedScopes.has(scope)) {
      out[method] = handler;
      continue;
    }
    const refusal = (metadata: grpc.Metadata): grpc.StatusObject | undefined => {
      const value = metadata.get('authorization')[0];
      const decision = tokens.check(scope, typeof value === 'string' ? value : undefined);
      if (decision.ok) return undefined;
      const details =
        decision.reason === 'forbidden'
          ? `the token "${decision.holder}" lacks the ${scope} scope this call needs`
          : `${decision.reason === 'missing' ? 'this call needs a token: send authorization: Bearer <token> metadata' : 'the token is not one this server knows'} (scope ${scope})`;
      return { code: decision.reason === 'forbidden' ? GRPC_STATUS.PERMISSION_DENIED : GRPC_STATUS.UNAUTHENTICATED, details, metadata: new grpc.Metadata() };
    };
    if (STREAMING_METHODS.has(method)) {
      const streaming = handler as grpc.handleBidiStreamingCall<unknown, unknown>;
      out[method] = ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
        const refused = refusal(call.metadata);
        if (!refused) return streaming(call);
        call.emit('error', refused);
      }) as grpc.UntypedHandleCall;
      continue;
    }
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const refused = refusal(call.metadata);
      if (!refused) return unary(call, callback);
      callback(refused);
    }) as grpc.UntypedHandleCall;
  }
  return out;
}
