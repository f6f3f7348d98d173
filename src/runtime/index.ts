// Owns: framework adapters (onnx, custom, xgboost, lightgbm, transformers, tfjs) that validate model files and load them into runnable Models.
// Knows nothing about: the store's layout, HTTP, runners or batching.
export * from './tensor.ts';
export type * from './types.ts';
export { onnxRuntime, OnnxModel, cudaAvailable, onnxRuntimeVersion, ONNX_METHOD } from './onnx.ts';
export { customRuntime, CustomModel, type CustomModelContext, type CustomModelHooks } from './custom.ts';
export { xgboostRuntime, lightgbmRuntime, TreeModel } from './trees/index.ts';
export { transformersRuntime, TransformersModel } from './transformers/transformers-runtime.ts';
export { tfjsRuntime, TfjsModel } from './tfjs/tfjs-runtime.ts';
export { getRuntime, registerRuntime, frameworks } from './registry.ts';
export { Cancellation, handlesCancelledWith, type CancelSignal } from './cancellation.ts';
