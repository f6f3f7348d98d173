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

/** `handlers` (all unary) behind the token check. */
export function withGrpcAuth(handlers: grpc.UntypedServiceImplementation, tokens: TokenSet): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const scope = grpcMethodScope(method);
    if (scope === 'open' || !tokens.protectedScopes.has(scope)) {
      out[method] = handler;
      continue;
    }
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const value = call.metadata.get('authorization')[0];
      const decision = tokens.check(scope, typeof value === 'string' ? value : undefined);
      if (decision.ok) return unary(call, callback);
      const details =
        decision.reason === 'forbidden'
          ? `the token "${decision.holder}" lacks the ${scope} scope this call needs`
          : `${decision.reason === 'missing' ? 'this call needs a token: send authorization: Bearer <token> metadata' : 'the token is not one this server knows'} (scope ${scope})`;
      callback({ code: decision.reason === 'forbidden' ? GRPC_STATUS.PERMISSION_DENIED : GRPC_STATUS.UNAUTHENTICATED, details });
    }) as grpc.UntypedHandleCall;
  }
  return out;
}
