// Loads the V2 gRPC .proto (server and clients use the same file) and types the messages the way
// @grpc/proto-loader decodes them with PROTO_OPTIONS: snake_case names, 64-bit integers as decimal
// strings (exact, unlike numbers), bytes as Buffers, absent fields filled with defaults.
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';

export const INFERENCE_PROTO_PATH = fileURLToPath(new URL('./grpc_service.proto', import.meta.url));
export const INFERENCE_SERVICE = 'inference.GRPCInferenceService';

export const PROTO_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** The package definition of grpc_service.proto, for a server or for `grpc.loadPackageDefinition` in a client. */
export function loadInferenceProto(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(INFERENCE_PROTO_PATH, PROTO_OPTIONS);
}

/** 64-bit integers arrive as strings and may be sent as numbers or strings. */
export type Int64 = string | number;

export interface InferParameter {
  bool_param?: boolean;
  int64_param?: Int64;
  string_param?: string;
  double_param?: number;
  uint64_param?: Int64;
  /** Which field of the oneof is set (filled in on decode). */
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
}

export interface InferTensorContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: Int64[];
  uint_contents?: number[];
  uint64_contents?: Int64[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface InferInputTensor {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters?: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface ModelInferRequest {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, InferParameter>;
  inputs: InferInputTensor[];
  outputs?: { name: string; parameters?: Record<string, InferParameter> }[];
  raw_input_contents?: Uint8Array[];
}

export interface InferOutputTensor {
  name: string;
  datatype: string;
  shape: Int64[];
  parameters?: Record<string, InferParameter>;
  contents?: InferTensorContents | null;
}

export interface ModelInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, InferParameter>;
  outputs: InferOutputTensor[];
  raw_output_contents: Uint8Array[];
}

export interface ModelStreamInferResponse {
  error_message: string;
  infer_response?: ModelInferResponse;
}

export interface ModelNameRequest {
  name: string;
  version: string;
}

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: Int64[];
}

export interface ModelMetadataResponse {
  name: string;
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export interface RepositoryIndexRequest {
  repository_name: string;
  ready: boolean;
}

export interface RepositoryIndexResponse {
  models: { name: string; version: string; state: string; reason: string }[];
}

export interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters?: Record<string, unknown>;
}
