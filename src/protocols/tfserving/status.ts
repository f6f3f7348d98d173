// TF Serving's model status (GetModelStatusResponse) and metadata (GetModelMetadataResponse) in JSON.
import type { IndexEntry, ModelRepository, VersionSelector, VersionState } from '../../repository/index.ts';
import type { DType, TensorSpec } from '../../runtime/tensor.ts';

const TF_STATE: Record<VersionState, string> = {
  LOADING: 'LOADING', READY: 'AVAILABLE', UNLOADING: 'UNLOADING', UNAVAILABLE: 'END', FAILED: 'END',
};

const TF_DTYPE: Record<DType, string> = {
  float16: 'DT_HALF', bfloat16: 'DT_BFLOAT16', float32: 'DT_FLOAT', float64: 'DT_DOUBLE',
  int8: 'DT_INT8', int16: 'DT_INT16', int32: 'DT_INT32', int64: 'DT_INT64',
  uint8: 'DT_UINT8', uint16: 'DT_UINT16', uint32: 'DT_UINT32', uint64: 'DT_UINT64',
  bool: 'DT_BOOL', string: 'DT_STRING',
};

export interface TfVersionStatus {
  version: string;
  state: string;
  status: { error_code: string; error_message: string };
}

function versionStatus(row: IndexEntry): TfVersionStatus {
  const failed = row.state === 'FAILED';
  return {
    version: row.version ?? '',
    state: TF_STATE[row.state],
    status: { error_code: failed ? 'UNKNOWN' : 'OK', error_message: failed ? row.reason : '' },
  };
}

export function modelStatus(repository: ModelRepository, name: string, selector: VersionSelector): { model_version_status: TfVersionStatus[] } {
  return { model_version_status: repository.versions(name, selector).map(versionStatus) };
}

function tensorInfo(spec: TensorSpec) {
  return {
    dtype: TF_DTYPE[spec.dtype],
    tensor_shape: { dim: spec.shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: spec.name,
  };
}

export function modelMetadata(repository: ModelRepository, name: string, selector: VersionSelector) {
  const { version, handle } = repository.resolve(name, selector);
  const specs = (list: readonly TensorSpec[]) => Object.fromEntries(list.map((s) => [s.name, tensorInfo(s)]));
  return {
    model_spec: { name, signature_name: '', version },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs: specs(handle.inputs), outputs: specs(handle.outputs), method_name: 'tensorflow/serving/predict' },
        },
      },
    },
  };
}
