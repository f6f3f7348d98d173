// A loader that loads each version into this thread with its framework's runtime. Fine for tests, tools
// and tiny models; servers use the runner pool's loader so inference never blocks the event loop.
import { Models } from '../models/index.ts';
import type { LoadOptions } from '../runtime/types.ts';
import type { LoadedModel, ModelLoader } from './types.ts';

export function inProcessLoader(models: Models, options?: LoadOptions): ModelLoader {
  return async (tag: string): Promise<LoadedModel> => {
    const model = await models.load(tag, options);
    return {
      get tag() { return model.tag; },
      get framework() { return model.framework; },
      get signatures() { return model.signatures; },
      get inputs() { return model.inputs; },
      get outputs() { return model.outputs; },
      run: (feeds, callOptions) => model.run(feeds, callOptions),
      call: (method, input, callOptions) => model.call(method, input, callOptions),
      close: () => model.dispose(),
    };
  };
}
