// A request message that is not valid protobuf is the client's mistake: INVALID_ARGUMENT, naming what failed,
// where grpc-js itself answers INTERNAL for any deserializer error. The service's deserializers are wrapped to
// hand such a message on as an InvalidMessage, which the (unary) handlers answer before doing any work.
import * as grpc from '@grpc/grpc-js';
import { GRPC_STATUS } from './error-status.ts';

class InvalidMessage {
  constructor(readonly reason: string) {}
}

/** `definition` with each method's request deserializer turning a decode failure into an InvalidMessage. */
export function withTolerantDecoding(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    const decode = method.requestDeserialize;
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (err) {
          return new InvalidMessage(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
}

/** `handlers` (all unary) answering INVALID_ARGUMENT to a message withTolerantDecoding could not decode. */
export function refusingInvalidMessages(handlers: grpc.UntypedServiceImplementation, service: string): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [method, handler] of Object.entries(handlers)) {
    const unary = handler as grpc.handleUnaryCall<unknown, unknown>;
    out[method] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (!(call.request instanceof InvalidMessage)) return unary(call, callback);
      callback({ code: GRPC_STATUS.INVALID_ARGUMENT, details: `the ${service}/${method} request is not a valid protobuf message: ${call.request.reason}` });
    }) as grpc.UntypedHandleCall;
  }
  return out;
}
