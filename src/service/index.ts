// Owns: the service SDK: the service()/api()/task() builder, io kinds, request and lifecycle contexts, API invocation, the ModelProvider seam.
// Knows nothing about: fastify, HTTP servers or where models run (a ModelProvider hands them in).
export { service, isService, Service, RESERVED_API_NAMES, RESERVED_PATHS } from './service.ts';
export type {
  ApiConfig, ApiDefinition, ApiMap, ApiTypes, ApiTypesOf, Empty, Handler, InputSpec, InputValue, InputWire,
  LifecycleHook, OutputReturn, OutputSpec, OutputWire, ServiceOptions, TaskTypes,
} from './service.ts';
export type { DependencyMap, LifecycleContext, ModelHandles, ModelTags, RequestContext, TaskContext } from './context.ts';
export type { AnyService, ServiceClients, TaskHandle, TaskInfo, TaskMethods } from './calls.ts';
export { type TaskConfig, type TaskDefinition, type TaskHandler } from './task-definition.ts';
export { mapConcurrent, parallel, sequence } from './compose.ts';
export { io } from './io.ts';
export { JsonIO, jsonSchemaOf } from './io-json.ts';
export { TextIO } from './io-text.ts';
export { TensorIO, type NestedArray, type TensorElement, type TensorOptions, type TensorOutputValue, type TensorWire } from './io-tensor.ts';
export { ImageIO, IMAGE_FORMATS, type DecodedImage, type ImageFormat, type ImageOptions, type ImageOutputValue, type RawImage } from './io-image.ts';
export { FileIO, type FileOptions, type FileOutputValue, type FileWire, type UploadedFile } from './io-file.ts';
export { MultipartIO, type FieldsSpec, type MultipartValue, type MultipartWire } from './io-multipart.ts';
export { StreamIO, sseFrame, EVENT_STREAM_MEDIA_TYPE, type StreamSource } from './io-stream.ts';
export type { FormPart, InputIO, IOKind, JsonSchema, MediaTypeMap, MediaTypeObject, OutputIO, RequestPayload, ResponseBody, ResponseNegotiation } from './io-types.ts';
export { parseContentType, acceptsMediaType } from './media-type.ts';
export { TENSOR_DTYPE_HEADER, TENSOR_SHAPE_HEADER, BINARY_MEDIA_TYPE } from './tensor-codec.ts';
export { validationError, formatPath, type ValidationIssue, type FieldPath } from './validation.ts';
export { invokeApi, checkMediaType } from './invoke.ts';
export { InProcessModelProvider, type ModelLoader, type ModelProvider, type OpenedModels } from './model-provider.ts';
