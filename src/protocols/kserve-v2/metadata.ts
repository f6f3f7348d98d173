// V2 server and model metadata, shared by the REST routes and the gRPC service.
import type { ModelRepository } from '../../repository/index.ts';
import type { TensorSpec } from '../../runtime/tensor.ts';
import type { ServerInfo } from '../server-info.ts';
import { datatypeOfDtype, type V2Datatype } from './datatypes.ts';

/** The V2 extensions this server implements (reported by server metadata). */
export const V2_EXTENSIONS = ['binary_tensor_data', 'model_repository', 'parameters'] as const;

export interface V2TensorMetadata {
  name: string;
  datatype: V2Datatype;
  /** -1 marks a dynamic dimension. */
  shape: number[];
}

export interface V2ModelMetadata {
  name: string;
  versions: string[];
  platform: string;
  inputs: V2TensorMetadata[];
  outputs: V2TensorMetadata[];
}

export interface V2ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export function serverMetadata(info: ServerInfo): V2ServerMetadata {
  return { name: info.name, version: info.version, extensions: [...V2_EXTENSIONS] };
}

/** The platform names Triton uses where one exists, otherwise `tiffin_<framework>`. */
export function platformOf(framework: string): string {
  return framework === 'onnx' ? 'onnxruntime_onnx' : `tiffin_${framework}`;
}

function tensorMetadata(spec: TensorSpec): V2TensorMetadata {
  return { name: spec.name, datatype: datatypeOfDtype(spec.dtype), shape: [...spec.shape] };
}

/** Metadata of a model's default version, or of `version` (its versions list is then that one version). */
export function modelMetadata(repository: ModelRepository, name: string, version?: string): V2ModelMetadata {
  const resolved = repository.resolve(name, version === undefined ? {} : { version });
  const { handle } = resolved;
  return {
    name,
    versions: version === undefined ? repository.readyVersions(name) : [resolved.version],
    platform: platformOf(handle.framework),
    inputs: handle.inputs.map(tensorMetadata),
    outputs: handle.outputs.map(tensorMetadata),
  };
}
