// grpc.health.v1.Health over a ModelRepository. Service "" and the inference service are SERVING when
// the repository is ready; a model name is SERVING when that model has a ready version.
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ModelRepository } from '../../repository/index.ts';
import { GRPC_STATUS } from '../error-status.ts';

export const HEALTH_PROTO_PATH = fileURLToPath(new URL('./health.proto', import.meta.url));

type ServingStatus = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

interface HealthRequest {
  service: string;
}

interface HealthResponse {
  status: ServingStatus;
}

export function loadHealthProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(HEALTH_PROTO_PATH, { keepCase: true, enums: String, defaults: true });
}

/** The status of `service`, or undefined when it is neither the server, a known gRPC service nor a model. */
function statusOf(repository: ModelRepository, service: string, serverServices: readonly string[]): ServingStatus | undefined {
  if (service === '' || serverServices.includes(service)) return repository.ready ? 'SERVING' : 'NOT_SERVING';
  if (!repository.has(service)) return undefined;
  return repository.readyVersions(service).length > 0 ? 'SERVING' : 'NOT_SERVING';
}

export function healthHandlers(repository: ModelRepository, serverServices: readonly string[]): grpc.UntypedServiceImplementation {
  const check: grpc.handleUnaryCall<HealthRequest, HealthResponse> = (call, callback) => {
    const status = statusOf(repository, call.request.service, serverServices);
    if (status === undefined) callback({ code: GRPC_STATUS.NOT_FOUND, details: `unknown service ${JSON.stringify(call.request.service)}` });
    else callback(null, { status });
  };

  const watch: grpc.handleServerStreamingCall<HealthRequest, HealthResponse> = (call) => {
    let last: ServingStatus | undefined;
    const send = (): void => {
      const status = statusOf(repository, call.request.service, serverServices) ?? 'SERVICE_UNKNOWN';
      if (status !== last) {
        last = status;
        call.write({ status });
      }
    };
    const unsubscribe = repository.onChange(send);
    call.once('cancelled', unsubscribe);
    call.once('close', unsubscribe);
    send();
  };

  return { Check: check, Watch: watch };
}
