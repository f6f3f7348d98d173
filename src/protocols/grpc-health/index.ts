// Owns: the standard grpc.health.v1 health service (Check, Watch) and its .proto, answered from a ModelRepository.
// Knows nothing about: inference, HTTP.
export { HEALTH_PROTO_PATH, healthHandlers, loadHealthProto } from './health-service.ts';
