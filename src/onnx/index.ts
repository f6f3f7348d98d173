// Owns: writing ONNX models from TypeScript (a graph builder over protobufjs) and a set of small ready-made models.
// Knows nothing about: loading, running or serving models; that is the runtime layer's job.
export {
  GraphBuilder, attr, Attr, tensorProto, writeModel, dtypeFromOnnx, ONNX_DATA_TYPE,
  type AttrValue, type BuildOptions, type Dim, type NodeOptions, type TensorValues,
} from './writer.ts';
export {
  linearRegression, logisticRegression, mlp, mlpParams, mlpForward,
  treeEnsembleClassifier, treeEnsemblePredict, mixedIO, identity,
  type Activation, type IdentityOptions, type LinearOptions, type MlpOptions, type MlpParams,
  type TreeEnsembleOptions, type TreeNode,
} from './builders.ts';
export { tokenEmbeddingEncoder, embeddingBagClassifier, type TokenEmbeddingOptions, type EmbeddingClassifierOptions } from './text-models.ts';
export { decodeModel, DataType, AttributeType, type ModelProtoObject } from './proto.ts';
export { toFloat16Bits, fromFloat16Bits, toBFloat16Bits, fromBFloat16Bits } from '../runtime/half.ts';
export { mulberry32, uniformFloat32 } from './random.ts';
