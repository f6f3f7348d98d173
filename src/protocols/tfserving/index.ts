// Owns: TF Serving's REST API (model status, metadata, predict in row and columnar formats, b64 binaries).
// Knows nothing about: how models load or run (it calls a ModelRepository), other protocols.
export { tfServingRoutes, type TfServingOptions } from './routes.ts';
export { decodePredict, encodePredict, type DecodedPredict, type PredictFormat } from './predict-codec.ts';
export { modelMetadata, modelStatus, type TfVersionStatus } from './status.ts';
