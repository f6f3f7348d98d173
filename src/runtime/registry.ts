// Runtimes by framework name. Adapters for more frameworks register here and nowhere else.
import { TiffinError } from '../errors/index.ts';
import { customRuntime } from './custom.ts';
import { onnxRuntime } from './onnx.ts';
import { lightgbmRuntime, xgboostRuntime } from './trees/tree-runtime.ts';
import { transformersRuntime } from './transformers/transformers-runtime.ts';
import { tfjsRuntime } from './tfjs/tfjs-runtime.ts';
import type { Runtime } from './types.ts';

const runtimes = new Map<string, Runtime>([
  [onnxRuntime.framework, onnxRuntime],
  [customRuntime.framework, customRuntime],
  [xgboostRuntime.framework, xgboostRuntime],
  [lightgbmRuntime.framework, lightgbmRuntime],
  [transformersRuntime.framework, transformersRuntime],
  [tfjsRuntime.framework, tfjsRuntime],
]);

export function registerRuntime(runtime: Runtime): void {
  runtimes.set(runtime.framework, runtime);
}

export function getRuntime(framework: string): Runtime {
  const runtime = runtimes.get(framework);
  if (!runtime) {
    throw new TiffinError('FRAMEWORK_UNKNOWN', `unknown framework "${framework}"; known: ${[...runtimes.keys()].join(', ')}`);
  }
  return runtime;
}

export function frameworks(): string[] {
  return [...runtimes.keys()];
}
