// Owns: reaching @huggingface/transformers, an optional peer dependency that is imported only when a transformers
// model is saved or loaded (never by tiffin's index), and opening a pipeline from a local folder with the hub
// switched off. Its `env` is one object per thread, so openings are queued and the settings put back after each.
import { basename, dirname } from 'node:path';
import { TiffinError, messageOf } from '../../errors/index.ts';

export const TRANSFORMERS_PACKAGE = '@huggingface/transformers';
const INSTALL_HINT = `npm install ${TRANSFORMERS_PACKAGE}@4`;

/** What Tiffin uses of a pipeline: call it on texts; its tokenizer and model are there for checks. */
export interface TextPipeline {
  (texts: string[], options?: Record<string, unknown>): Promise<unknown>;
  dispose(): Promise<void>;
}

/** The part of the library Tiffin touches (typed here, so tiffin's own types never name the optional package). */
interface TransformersLibrary {
  env: {
    version: string;
    allowRemoteModels: boolean;
    allowLocalModels: boolean;
    localModelPath: string;
    useFSCache: boolean;
    useBrowserCache: boolean;
    logLevel: number;
  };
  LogLevel: { ERROR: number };
  pipeline(task: string, model: string, options: Record<string, unknown>): Promise<TextPipeline>;
}

let library: Promise<TransformersLibrary> | undefined;

/** Imports the package once per thread; `specifier` exists for the test of a missing package. */
export function loadTransformers(specifier = TRANSFORMERS_PACKAGE): Promise<TransformersLibrary> {
  const load = async (): Promise<TransformersLibrary> => {
    try {
      return (await import(specifier)) as TransformersLibrary;
    } catch (err) {
      const missing = (err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && messageOf(err).includes(specifier);
      throw new TiffinError(
        'FRAMEWORK_UNAVAILABLE',
        missing
          ? `the transformers framework needs the ${TRANSFORMERS_PACKAGE} package, which is not installed: ${INSTALL_HINT}`
          : `${TRANSFORMERS_PACKAGE} is installed but failed to load (${messageOf(err).split('\n')[0]}); reinstall it: ${INSTALL_HINT}`,
        { cause: err },
      );
    }
  };
  if (specifier !== TRANSFORMERS_PACKAGE) return load();
  library ??= load().catch((err: unknown) => {
    library = undefined; // installing it later in a long-lived process should work
    throw err;
  });
  return library;
}

/** The package's version, recorded in manifests. */
export async function transformersVersion(): Promise<string> {
  return (await loadTransformers()).env.version;
}

/**
 * Where the library should look for `dir`: its grandparent as `env.localModelPath` and the last two path
 * segments as the model id (in the store: `<name>/<version>`, so two models never share an id, which matters
 * because the library memoizes some reads by id). A folder whose names are not a valid model id is passed as a
 * path instead; with remote models off, both stay on the local disk.
 */
export function modelLocation(dir: string): { localModelPath: string; id: string } {
  const id = `${basename(dirname(dir))}/${basename(dir)}`;
  return /^[\w.-]+\/[\w.-]{1,96}$/.test(id) && !id.includes('..') && !id.includes('--')
    ? { localModelPath: dirname(dirname(dir)), id }
    : { localModelPath: dirname(dir), id: dir };
}

export interface OpenOptions {
  task: string;
  /** Transformers.js dtype of the ONNX file (fp32 for model.onnx, q8 for model_quantized.onnx ...). */
  dtype: string;
  /** The ONNX file's name without its dtype suffix and .onnx ('model'). */
  modelFileName: string;
  /** The parsed config.json, passed in so a re-read folder is never answered from the library's memo. */
  config: Record<string, unknown>;
  sessionOptions: Record<string, unknown>;
}

let queue: Promise<unknown> = Promise.resolve();

/** Opens a pipeline over the folder `dir`, local files only. */
export function openPipeline(dir: string, options: OpenOptions): Promise<TextPipeline> {
  const run = async (): Promise<TextPipeline> => {
    const { env, pipeline, LogLevel } = await loadTransformers();
    const saved = { ...env };
    const { localModelPath, id } = modelLocation(dir);
    env.allowRemoteModels = false; // never the hub: the store holds every file the model needs
    env.allowLocalModels = true;
    env.localModelPath = localModelPath;
    env.useFSCache = false; // a cache under node_modules could answer in place of the stored files
    env.useBrowserCache = false;
    env.logLevel = LogLevel.ERROR;
    try {
      return await pipeline(options.task, id, {
        local_files_only: true,
        device: 'cpu',
        dtype: options.dtype,
        model_file_name: options.modelFileName,
        config: options.config,
        session_options: options.sessionOptions,
      });
    } catch (err) {
      throw new TiffinError('MODEL_INVALID', `Transformers.js could not open the ${options.task} pipeline in ${dir}: ${messageOf(err)}`, { cause: err });
    } finally {
      env.allowRemoteModels = saved.allowRemoteModels;
      env.allowLocalModels = saved.allowLocalModels;
      env.localModelPath = saved.localModelPath;
      env.useFSCache = saved.useFSCache;
      env.useBrowserCache = saved.useBrowserCache;
      env.logLevel = saved.logLevel;
    }
  };
  const opened = queue.then(run, run);
  queue = opened.catch(() => {});
  return opened;
}
