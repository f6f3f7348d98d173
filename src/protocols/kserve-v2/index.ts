// Owns: the KServe V2 / Open Inference Protocol: datatypes, JSON and binary tensor codecs, REST routes, the gRPC
// service and its .proto. Knows nothing about: how models load or run (it calls a ModelRepository), other protocols.
export { V2_DATATYPES, datatypeOfDtype, dtypeOfDatatype, isV2Datatype, type V2Datatype } from './datatypes.ts';
export { inferV2, type V2InferRequest, type V2InferResult, type V2Input, type V2Output, type V2Parameters } from './infer.ts';
export { modelMetadata, platformOf, serverMetadata, V2_EXTENSIONS, type V2ModelMetadata, type V2ServerMetadata, type V2TensorMetadata } from './metadata.ts';
export { HEADER_LENGTH_HEADER, encodeInferResponse, parseInferBody, type EncodedInferResponse, type ParsedInferBody } from './rest-codec.ts';
export { tensorFromRaw, tensorToRaw } from './raw-tensor.ts';
export { kserveV2Routes, type KServeV2RestOptions } from './rest-routes.ts';
export { INFERENCE_PROTO_PATH, INFERENCE_SERVICE, PROTO_OPTIONS, loadInferenceProto } from './grpc-proto.ts';
export type * from './grpc-proto.ts';
export { inferenceServiceHandlers } from './grpc-service.ts';
