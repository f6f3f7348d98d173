// Owns: reaching TensorFlow.js, optional peer dependencies imported only when a tfjs model is saved or loaded
// (never by tiffin's index): @tensorflow/tfjs-core with the pure-JavaScript CPU backend, tfjs-layers for Keras-style
// layers models and tfjs-converter for graph models. (@tensorflow/tfjs-node downloads a native binary at install,
// which is why the CPU backend is the one used.) Typed here by what Tiffin uses, so tiffin's own types never name
// the optional packages.
import { TiffinError, messageOf } from '../../errors/index.ts';

export const TFJS_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-converter'] as const;
const INSTALL_HINT = `npm install ${TFJS_PACKAGES.map((p) => `${p}@4`).join(' ')} (or @tensorflow/tfjs@4, which holds them)`;

/** A tf.Tensor, as far as Tiffin touches one. */
export interface TfTensor {
  readonly shape: number[];
  readonly dtype: string;
  data(): Promise<ArrayLike<number> | Uint8Array[]>;
  dispose(): void;
}

/** A symbolic input or output of a loaded model. */
export interface TfTensorInfo {
  name: string;
  shape?: (number | null)[] | undefined;
  dtype: string;
}

/** What the loaders take: TensorFlow.js's ModelArtifacts, handed over from memory. */
export interface TfArtifacts {
  modelTopology: unknown;
  weightSpecs: unknown[];
  weightData: ArrayBuffer;
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  signature?: unknown;
  userDefinedMetadata?: unknown;
  modelInitializer?: unknown;
  trainingConfig?: unknown;
}

export interface LayersModel {
  readonly inputs: TfTensorInfo[];
  readonly outputs: TfTensorInfo[];
  readonly inputNames: string[];
  readonly outputNames: string[];
  predict(x: TfTensor | TfTensor[]): TfTensor | TfTensor[];
  dispose(): unknown;
}

export interface GraphModel {
  readonly inputs: TfTensorInfo[];
  readonly outputs: TfTensorInfo[];
  executeAsync(inputs: Record<string, TfTensor>, outputs?: string[]): Promise<TfTensor | TfTensor[]>;
  dispose(): void;
}

interface IOHandler {
  load(): Promise<TfArtifacts>;
}

export interface TfLibrary {
  version: string;
  tensor(values: ArrayLike<number> | Uint8Array, shape: number[], dtype: string): TfTensor;
  loadLayersModel(handler: IOHandler): Promise<LayersModel>;
  loadGraphModel(handler: IOHandler): Promise<GraphModel>;
}

let library: Promise<TfLibrary> | undefined;

async function importPackage(name: string): Promise<Record<string, unknown>> {
  try {
    return (await import(name)) as Record<string, unknown>;
  } catch (err) {
    const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && messageOf(err).includes(name);
    throw new TiffinError(
      'FRAMEWORK_UNAVAILABLE',
      missing ? `tfjs models need TensorFlow.js, which is not installed: ${INSTALL_HINT}` : `${name} could not be loaded: ${messageOf(err)}`,
      { cause: err },
    );
  }
}

/** Imports TensorFlow.js once per thread and selects the CPU backend. */
export function loadTfjs(): Promise<TfLibrary> {
  library ??= (async () => {
    const core = await importPackage(TFJS_PACKAGES[0]);
    await importPackage(TFJS_PACKAGES[1]); // registers the 'cpu' backend
    const layers = await importPackage(TFJS_PACKAGES[2]);
    const converter = await importPackage(TFJS_PACKAGES[3]);
    const tf = core as unknown as {
      version_core: string;
      env(): { set(flag: string, value: unknown): void };
      setBackend(name: string): Promise<boolean>;
      ready(): Promise<void>;
      tensor: TfLibrary['tensor'];
    };
    // PROD: no debug checks, and no console hint to install tfjs-node, which cannot be installed here anyway.
    tf.env().set('PROD', true);
    if (!(await tf.setBackend('cpu'))) throw new TiffinError('FRAMEWORK_UNAVAILABLE', 'the TensorFlow.js CPU backend did not start');
    await tf.ready();
    return {
      version: tf.version_core,
      tensor: tf.tensor.bind(core),
      loadLayersModel: layers.loadLayersModel as TfLibrary['loadLayersModel'],
      loadGraphModel: converter.loadGraphModel as TfLibrary['loadGraphModel'],
    };
  })();
  library.catch(() => (library = undefined));
  return library;
}
